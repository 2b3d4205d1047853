import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { compileService } from './compile.js'
import { processCpuMs } from './cpu.js'
import { createUser, prepareDatabase, startDatabase } from './database.js'
import { EventSequence, runMarker } from './events.js'
import { describeMachine } from './machine.js'
import { PROJECT_ROOT, startService, stopAllServices } from './service.js'
import { BENCH_USER, mintToken } from './token.js'

/**
 * `tsx bench/idle.ts [--seconds=10] [--server=dist/src/server.js]`: what a service that receives nothing costs, in
 * percent of one core, its own and the database's, after it has written a few events (so the folder and the
 * signer have claims and trees to look at). Two settings: the production defaults, and the tests' fast folds and
 * checkpoints (SEQUENCE_FOLD_MS=20, CHECKPOINT_INTERVAL_MS=50), where polling at the base intervals cost most.
 * The baseline of the same run is the database with no service at all. `--server` runs another compiled build
 * (an older commit's, to compare).
 */
const args = process.argv.slice(2)
const seconds = Number(args.find((arg) => arg.startsWith('--seconds='))?.slice('--seconds='.length) ?? 10)
const given = args.find((arg) => arg.startsWith('--server='))?.slice('--server='.length)
const SETTINGS: Array<{ name: string, env: Record<string, string> }> = [
  { name: 'defaults (fold 500 ms, checkpoints 2 s)', env: {} },
  { name: 'tests (fold 20 ms, checkpoints 50 ms)', env: { SEQUENCE_FOLD_MS: '20', CHECKPOINT_INTERVAL_MS: '50' } }
]

const log = (line: string) => process.stderr.write(`${line}\n`)
const machine = describeMachine()
const resultsDir = join(PROJECT_ROOT, 'bench', 'results')
mkdirSync(resultsDir, { recursive: true })
const database = await startDatabase(log)
const secret = randomBytes(32).toString('hex')
const rows: string[] = []
try {
  const server = given ?? compileService(log)
  const [alone] = await cpuOverQuiet([database.pid])
  rows.push(`| no service (baseline) | — | ${(alone as number).toFixed(1)} |`)
  for (const [i, setting] of SETTINGS.entries()) {
    const db = await prepareDatabase(database.client, `idle_${i}`)
    await createUser(db, BENCH_USER)
    const service = await startService({
      name: `idle_${i}`,
      databaseUrl: database.url,
      database: db.databaseName,
      secret,
      env: setting.env,
      logDir: resultsDir,
      compiledServer: server
    })
    try {
      const token = await mintToken(database.url, secret, BENCH_USER)
      const events = new EventSequence(runMarker('idle'))
      for (let n = 0; n < 20; n++) {
        const res = await fetch(`${service.url}/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(events.next())
        })
        if (res.status !== 201) throw new Error(`an event was answered ${res.status}: ${await res.text()}`)
      }
      // the writes' own folds and checkpoint are done well within this
      await new Promise((resolve) => setTimeout(resolve, 5000))
      const [serviceCpu, databaseCpu] = (await cpuOverQuiet([service.pid, database.pid])) as [number, number]
      rows.push(`| ${setting.name} | ${serviceCpu.toFixed(1)} | ${databaseCpu.toFixed(1)} |`)
      log(`${setting.name}: service ${serviceCpu.toFixed(1)}%, database ${databaseCpu.toFixed(1)}% of a core`)
    } finally {
      await service.stop()
    }
  }
} finally {
  await stopAllServices()
  await database.stop()
}

/** The percent of one core each process used over the next `seconds`, while nothing is sent to the service. */
async function cpuOverQuiet (pids: Array<number | undefined>): Promise<number[]> {
  const before = pids.map((pid) => pid === undefined ? Number.NaN : processCpuMs(pid))
  const started = Date.now()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const elapsed = Date.now() - started
  return pids.map((pid, i) => pid === undefined ? Number.NaN : (processCpuMs(pid) - (before[i] as number)) / elapsed * 100)
}

process.stdout.write([
  `An idle service over ${seconds} s after 20 events; ${database.description}; load ${machine.loadAverageAtStart} at the start, ` +
    `${describeMachine().loadAverageAtStart} at the end${given === undefined ? '' : `; ${given}`}`,
  '',
  '| settings | service, % of a core | database, % of a core |',
  '|---|---:|---:|',
  ...rows,
  ''
].join('\n'))
