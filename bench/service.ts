import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ConfigSchema } from '../src/config.js'
import { freePort } from '../src/embedded/ferretdb.js'
import type { LoopDelayMessage, LoopDelayStats } from './loop-delay.js'

/**
 * The real service in a child process of its own: `node --import tsx src/server.ts` (or, with
 * --compiled, `node server.js` built by tsc, as `npm run start:prod` runs it), configured only through
 * its environment, listening on loopback. The bench watches it from the
 * outside: RSS from /proc, event-loop delay through a probe loaded with `--import`.
 */
export interface ServiceOptions {
  /** Names the log file and the CPU profile. */
  name: string
  databaseUrl: string
  database: string
  secret: string
  /** More configuration, e.g. GROUP_COMMIT_MAX_BATCH=1. */
  env?: Record<string, string>
  logDir: string
  /** Profile the child with `--cpu-prof`, writing into this directory when it exits. */
  cpuProfileDir?: string
  /** Run this compiled server.js with plain node instead of src/server.ts under tsx. */
  compiledServer?: string
  /** Node and V8 flags for the child, e.g. `--max-semi-space-size=4` (bench/memory.ts). */
  nodeArgs?: string[]
}

export interface MemorySample {
  /** Resident set size now, MB. */
  rssMb: number
  /** Highest RSS since the process started (VmHWM), MB. */
  peakMb: number
}

export interface RunningService {
  url: string
  pid: number
  memory: () => MemorySample
  /** Samples RSS every `intervalMs` until `stop` is called. */
  sampleMemory: (intervalMs: number) => { stop: () => number[] }
  loopDelay: (action: 'reset' | 'read') => Promise<LoopDelayStats | undefined>
  /** The service's own process.memoryUsage(), through the probe. */
  heapUsage: () => Promise<NodeJS.MemoryUsage | undefined>
  /** Writes a heap snapshot of the service to `file` (it stops the service while it does). */
  heapSnapshot: (file: string) => Promise<string | undefined>
  stop: () => Promise<void>
}

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
/**
 * DATA_DIR of every service this bench process starts (and of the apps it builds in process, which share their
 * signing key), made for the run and removed at its end. The signer keeps its record of what it receipted there,
 * per database and tenant: kept in data/ from an earlier run (the same database name, dropped and made anew), it
 * made the service claim every seq it remembered as lost holes, 10,000 leaves at a time, inside measured runs.
 */
export const BENCH_DATA_DIR = mkdtempSync(join(tmpdir(), 'audit-log-bench-data-'))
process.once('exit', () => rmSync(BENCH_DATA_DIR, { recursive: true, force: true }))
const PROBE = pathToFileURL(join(PROJECT_ROOT, 'bench', 'loop-delay-probe.mjs')).href
const READY_TIMEOUT_MS = 90_000
/** Children still running: stopped if the bench itself is interrupted. */
const running = new Set<RunningService>()
const STOP_TIMEOUT_MS = 20_000

export async function startService (options: ServiceOptions): Promise<RunningService> {
  const port = await freePort()
  const env = serviceEnvironment({
    DATA_DIR: BENCH_DATA_DIR,
    MONGODB_URL: options.databaseUrl,
    MONGODB_DATABASE: options.database,
    JWT_SECRET: options.secret,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    // the bench's one token lives a day (bench/token.ts); the service refuses tokens living longer than JWT_TTL
    JWT_TTL: '86400',
    ...options.env
  })
  const profileArgs = options.cpuProfileDir === undefined
    ? []
    // one directory per service: the module-loader thread of tsx writes a profile of its own next to the main one
    : ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfileDir, options.name)}`]
  const entry =
    options.compiledServer === undefined
      ? ['--import', 'tsx', '--import', PROBE, 'src/server.ts']
      : ['--import', PROBE, options.compiledServer]
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...profileArgs, ...entry], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  const log = createWriteStream(join(options.logDir, `service-${options.name}.log`))
  let tail = ''
  const keepTail = (chunk: Buffer) => { tail = (tail + chunk.toString()).slice(-2000) }
  child.stdout?.on('data', keepTail).pipe(log)
  child.stderr?.on('data', keepTail).pipe(log)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))

  const url = `http://127.0.0.1:${port}`
  const ready = await Promise.race([waitUntilReady(url), exited.then(() => false)])
  if (!ready) {
    child.kill('SIGKILL')
    throw new Error(`the service (${options.name}) did not become ready: ${tail.trim().split('\n').slice(-5).join(' | ')}`)
  }
  const pid = child.pid as number

  const service: RunningService = {
    url,
    pid,
    memory: () => readMemory(pid),
    sampleMemory: (intervalMs) => {
      const samples: number[] = []
      const timer = setInterval(() => {
        try { samples.push(readMemory(pid).rssMb) } catch { /* the child may be exiting */ }
      }, intervalMs)
      return { stop: () => { clearInterval(timer); return samples } }
    },
    loopDelay: async (action) => (await askProbe(child, { action }))?.stats,
    heapUsage: async () => (await askProbe(child, { action: 'memory' }))?.memory,
    heapSnapshot: async (file) => (await askProbe(child, { action: 'heap-snapshot', file }, 120_000))?.file,
    stop: async () => {
      running.delete(service)
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
      log.end()
    }
  }
  running.add(service)
  return service
}

export async function stopAllServices (): Promise<void> {
  await Promise.all([...running].map((service) => service.stop()))
}

/** The bench's environment minus anything the service would read as configuration, plus ours. */
function serviceEnvironment (config: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(ConfigSchema.properties)) delete env[key]
  delete env.NODE_OPTIONS
  return { ...env, ...config }
}

async function waitUntilReady (url: string): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) })
      if (response.status === 200) return true
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

function readMemory (pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 }
}

let probeRequests = 0

async function askProbe (
  child: ChildProcess,
  ask: Pick<LoopDelayMessage, 'action' | 'file'>,
  timeoutMs = 5000
): Promise<LoopDelayMessage | undefined> {
  if (child.send === undefined || !child.connected) return undefined
  const id = ++probeRequests
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { child.off('message', onMessage); resolve(undefined) }, timeoutMs)
    function onMessage (message: LoopDelayMessage) {
      if (message?.type !== 'bench:loop-delay' || message.id !== id) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(message)
    }
    child.on('message', onMessage)
    child.send({ type: 'bench:loop-delay', id, ...ask } satisfies LoopDelayMessage)
  })
}
