import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../src/embedded/ferretdb.js'

/**
 * `tsx scripts/with-database.ts <command...>` runs the command with MONGODB_URL pointing at a real
 * server: the one already in MONGODB_URL, or else a FerretDB started for this run in a temporary
 * directory and removed afterwards. `npm test` is this around tap; each test file then creates and
 * drops its own database on that server (test/helper.ts).
 */
const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  process.stderr.write('usage: tsx scripts/with-database.ts <command> [args...]\n')
  process.exit(2)
}

let database: EmbeddedDatabase | undefined
let dataDir: string | undefined
if (process.env.MONGODB_URL === undefined || process.env.MONGODB_URL === '') {
  dataDir = mkdtempSync(join(tmpdir(), 'audit-log-test-db-'))
  database = await startEmbeddedDatabase({ dataDir })
}

const child = spawn(command, args, {
  stdio: 'inherit',
  env: { ...process.env, MONGODB_URL: database?.url ?? process.env.MONGODB_URL }
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))

const code = await new Promise<number>((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal !== null ? 1 : 0))))
await database?.stop()
if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
process.exit(code)
