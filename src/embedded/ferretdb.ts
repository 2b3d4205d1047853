import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { projectRoot as findProjectRoot } from '../project-root.js'

/**
 * Starts FerretDB (SQLite backend, loopback only) as a child process: the embedded default database
 * of `npm start`, and the real server that `npm test` and the benchmarks talk to over the wire.
 * Production points MONGODB_URL at MongoDB instead and never runs this.
 */
export interface EmbeddedDatabase {
  url: string
  port: number
  process: ChildProcess
  stop: () => Promise<void>
}

export interface EmbeddedDatabaseOptions {
  dataDir: string
  port?: number
  /** Where progress lines go (installation, start); stderr by default. */
  log?: (line: string) => void
  /** The FerretDB executable: the parsed config's FERRETDB_BIN where the caller has one; else see ferretDbBinary. */
  binary?: string
  /**
   * SQLite pragmas for every connection, e.g. `max_page_count(600)`: a database that cannot grow past a size, which
   * SQLite refuses writes to as it would on a full disk (the tests of a full disk use it).
   */
  sqlitePragmas?: string[]
}

const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)))

/**
 * FERRETDB_BIN (see ConfigSchema), else the project's .tools/bin/ferretdb. Callers without a parsed config
 * (the test database wrapper, the benchmarks, the fault harness) get FERRETDB_BIN from the environment
 * here, the same variable scripts/install-ferretdb.sh builds to.
 */
export function ferretDbBinary (configured?: string): string {
  return configured ?? nonEmpty(process.env.FERRETDB_BIN) ?? join(projectRoot, '.tools', 'bin', 'ferretdb')
}

/** Builds FerretDB on first use (see scripts/install-ferretdb.sh for why it is not a plain `go install`). */
export function ensureFerretDbInstalled (configured?: string): string {
  const binary = ferretDbBinary(configured)
  if (existsSync(binary)) return binary
  // the script builds to FERRETDB_BIN: the binary chosen here, wherever it came from
  const result = spawnSync('bash', [join(projectRoot, 'scripts', 'install-ferretdb.sh')], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, FERRETDB_BIN: binary }
  })
  if (result.status !== 0 || !existsSync(binary)) {
    throw new Error('FerretDB is not installed and could not be built (needs Go); set MONGODB_URL to use an existing MongoDB')
  }
  return binary
}

export async function startEmbeddedDatabase (options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'))
  const binary = ensureFerretDbInstalled(options.binary)
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const port = options.port ?? await freePort()

  const child = spawn(binary, [
    '--handler=sqlite',
    `--sqlite-url=file:${dataDir}/${pragmaQuery(options.sqlitePragmas)}`,
    `--listen-addr=127.0.0.1:${port}`,
    // without this, two instances collide on the default debug port 8088
    '--debug-addr=-',
    `--state-dir=${dataDir}`,
    '--telemetry=disable',
    '--log-level=warn'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })

  let stderrTail = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderrTail = (stderrTail + chunk.toString()).slice(-2000) })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

  const started = await Promise.race([
    waitForPort(port, 20000).then(() => true),
    exited.then(() => false)
  ])
  if (!started) {
    throw new Error(`FerretDB exited during startup: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`)
  }
  log(`embedded FerretDB listening on 127.0.0.1:${port}, data in ${dataDir}`)

  return {
    url: `mongodb://127.0.0.1:${port}/`,
    port,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

function pragmaQuery (pragmas: string[] = []): string {
  return pragmas.length === 0 ? '' : `?${pragmas.map((pragma) => `_pragma=${encodeURIComponent(pragma)}`).join('&')}`
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('could not read the free port'))
      })
    })
  })
}

async function waitForPort (port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' })
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`FerretDB did not open port ${port} within ${timeoutMs} ms`)
}

/** An empty variable (`FERRETDB_BIN=`) means unset, as loadConfig reads it. */
function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
