import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MongoClient } from 'mongodb'
import type { Test } from 'tap'
import type { Role } from '../../src/schemas/roles.js'
import type { EventInput } from '../../src/schemas/event.js'
import { buildApp } from '../../src/app.js'
import { ConfigSchema, loadConfig, toAppConfig } from '../../src/config.js'
import { freePort, startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/embedded/ferretdb.js'

/**
 * What every fault scenario shares: its own FerretDB (killable and restartable on the same data and
 * port), the real service as a child process (`node --import tsx src/server.ts`, so kill -9 and SIGTERM
 * hit the real thing), a writer token, concurrent HTTP clients that keep a ledger of every answer, and
 * the final comparison of that ledger with what the database holds.
 */

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const FAULT_SECRET = 'fault-test-secret-that-is-long-enough-for-hs256-0123'
export const FAULT_TENANT = 'fault-tenant'
const HOST = '127.0.0.1'

/**
 * Everything a scenario started, killed when this process exits however it exits: a tap timeout ends
 * the test process without running teardowns, and an orphaned FerretDB or service would outlive it.
 */
const children = new Set<ChildProcess>()
const tempDirs = new Set<string>()
process.once('exit', function killLeftovers () {
  for (const child of children) if (isRunning(child)) child.kill('SIGKILL')
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

export interface FaultDatabase {
  url: string
  port: number
  /** kill -9: no chance to flush or say goodbye; resolves once the process is gone. */
  kill: () => Promise<void>
  /** Starts again on the same data directory and port. */
  restart: () => Promise<void>
  /** SIGSTOP: the database hangs, its connections stay open and answer nothing (a frozen host, a black hole). */
  pause: () => void
  /** SIGCONT after pause. */
  resume: () => void
  stop: () => Promise<void>
}

export async function startDatabase (): Promise<FaultDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'audit-log-fault-db-'))
  tempDirs.add(dataDir)
  const quiet = (): void => {}
  let current: EmbeddedDatabase = await startEmbeddedDatabase({ dataDir, log: quiet })
  children.add(current.process)
  const port = current.port
  return {
    url: current.url,
    port,
    async kill () {
      const exited = new Promise((resolve) => current.process.once('exit', resolve))
      current.process.kill('SIGKILL')
      await exited
    },
    async restart () {
      current = await startEmbeddedDatabase({ dataDir, port, log: quiet })
      children.add(current.process)
    },
    pause () {
      current.process.kill('SIGSTOP')
    },
    resume () {
      current.process.kill('SIGCONT')
    },
    async stop () {
      await current.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/** A unique database name per run, so a rerun never sees a previous run's events. */
export function runDatabaseName (scenario: string): string {
  return `fault_${scenario}_${randomBytes(3).toString('hex')}`
}

/**
 * A writer user stored through the app's own UserStore, and a token minted with the service's secret:
 * exactly what POST /login would hand out, without the client needing the password.
 */
export async function createWriterToken (
  mongodbUrl: string,
  database: string,
  roles: Role[] = ['writer'],
  username = 'fault-writer'
): Promise<string> {
  const config = loadConfig({
    MONGODB_URL: mongodbUrl,
    MONGODB_DATABASE: database,
    JWT_SECRET: FAULT_SECRET,
    SIGNING_KEY_FILE: FAULT_SIGNING_KEY_FILE,
    LOG_LEVEL: 'silent'
  })
  const app = await buildApp({ config: toAppConfig(config, { url: mongodbUrl, secret: FAULT_SECRET }) })
  try {
    await app.ready()
    const user = await app.userStore.create({
      username,
      roles,
      tenant: FAULT_TENANT,
      password: randomBytes(18).toString('base64url')
    })
    return app.loginService.issueToken(user).access_token
  } finally {
    await app.close()
  }
}

/**
 * Events stored as if received at `receivedAt`, through the service's own write path by an app in this process
 * on the same database (another replica, as the sequencer allows, with the run's key): receipt times cannot be
 * sent over HTTP, and a stored timestamp changed afterwards no longer matches its leaf, which the retention
 * sweeper checks before it deletes anything (docs/retention.md). Their seqs, in input order.
 */
export async function writeReceivedAt (
  mongodbUrl: string,
  database: string,
  inputs: EventInput[],
  receivedAt: Date
): Promise<number[]> {
  const config = loadConfig({
    MONGODB_URL: mongodbUrl,
    MONGODB_DATABASE: database,
    JWT_SECRET: FAULT_SECRET,
    SIGNING_KEY_FILE: FAULT_SIGNING_KEY_FILE,
    LOG_LEVEL: 'silent',
    AUDIT_ACCESS: false,
    RETENTION_SWEEP_INTERVAL_MS: 0
  })
  const app = await buildApp({ config: toAppConfig(config, { url: mongodbUrl, secret: FAULT_SECRET }) })
  try {
    await app.ready()
    const outcomes = await app.eventWriter.write({ tenant: FAULT_TENANT, username: 'fault-writer' }, inputs, receivedAt)
    return outcomes.map((outcome) => {
      if (outcome.status !== 'created') throw new Error(`an aged event was not stored: ${JSON.stringify(outcome)}`)
      return outcome.seq
    })
  } finally {
    await app.close()
  }
}

/** The checkpoint signing key every service process of this run shares, as replicas must. */
export const FAULT_SIGNING_KEY_FILE = join(tmpdir(), `audit-log-fault-signing-key-${process.pid}.pem`)

export interface ServiceProcess {
  port: number
  baseUrl: string
  child: ChildProcess
  /** Settles when the process has exited, with when and how. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>
  /** The last lines the service wrote (for a failure's diagnostics). */
  outputTail: () => string
}

/**
 * Starts the real server process and resolves once it answers /health/ready. Only the variables given
 * here configure it: any service variable in the test's own environment is dropped.
 */
export async function startService (env: Record<string, string>, port?: number): Promise<ServiceProcess> {
  const servicePort = port ?? await freePort()
  const childEnv: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(ConfigSchema.properties)) delete childEnv[key]
  // FAULT_SERVICE_LOG=<file> keeps the service's whole log (at level info), for looking into a failure
  const logFile = process.env.FAULT_SERVICE_LOG
  const logLevel = logFile !== undefined && logFile !== '' ? 'info' : 'warn'
  // the scenarios count the tenant's stored events exactly: their own reads must not add audit.read.* events to them
  Object.assign(childEnv, {
    HOST,
    PORT: String(servicePort),
    JWT_SECRET: FAULT_SECRET,
    SIGNING_KEY_FILE: FAULT_SIGNING_KEY_FILE,
    AUDIT_ACCESS: 'false',
    LOG_LEVEL: logLevel,
    ...env
  })

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: projectRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.add(child)
  let tail = ''
  const keepTail = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-4000)
    if (logFile !== undefined && logFile !== '') appendFileSync(logFile, chunk)
  }
  child.stdout?.on('data', keepTail)
  child.stderr?.on('data', keepTail)
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }))
  })

  const baseUrl = `http://${HOST}:${servicePort}`
  const deadline = Date.now() + 60000
  let ready = false
  while (!ready && isRunning(child) && Date.now() < deadline) {
    try {
      const response = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2000) })
      ready = response.status === 200
      await response.body?.cancel()
    } catch {
      // not listening yet
    }
    if (!ready) await sleep(100)
  }
  if (!ready) {
    child.kill('SIGKILL')
    throw new Error(`the service did not become ready: ${tail}`)
  }
  return { port: servicePort, baseUrl, child, exited, outputTail: () => tail }
}

export function isRunning (child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/** Stops a service that a scenario left running; a no-op once it has exited. */
export async function stopService (service: ServiceProcess): Promise<void> {
  if (!isRunning(service.child)) return
  service.child.kill('SIGKILL')
  await service.exited
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** One HTTP request carrying one event (POST /events) or several (POST /events/batch), as the client saw it. */
export interface Attempt {
  eventIds: string[]
  startedAt: number
  endedAt: number
  /** HTTP status, or undefined when no response arrived. */
  status?: number
  /** On a 2xx, each event's status word, in order: `created`, `duplicate` (or `error` for a batch item). */
  outcomes?: string[]
  /** An error answer's `code` (DATABASE_UNAVAILABLE, QUERY_TIMEOUT, SERVICE_OVERLOADED...). */
  code?: string
  retryAfterSeconds?: number
  /** Why no response arrived: the socket error code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET) or TIMEOUT. */
  error?: string
}

export interface Ledger {
  attempts: Attempt[]
  /** event_id → the status word of its first acknowledgement. */
  acknowledged: Map<string, string>
}

export interface ClientOptions {
  baseUrl: string
  token: string
  eventIds: string[]
  /** One entry per concurrent client: how many events it sends per request (1: POST /events, more: POST /events/batch). */
  clients: number[]
  /** Least pause before a client whose request failed sends again (longer if the answer says Retry-After). */
  retryDelayMs: number
  /** Stop early (e.g. the service is gone for good). Checked before each request. */
  shouldStop?: () => boolean
  /** Called after each request: scenarios trigger their fault from here. */
  onAttempt?: (attempt: Attempt, ledger: Ledger) => void
  /** A request that gets no answer within this is abandoned and counted as a hang. */
  requestTimeoutMs?: number
}

/** Single-event clients exercise group commit; batch clients the bulk path (and carry most events cheaply). */
export function mixedClients (singles: number, batches: number, batchSize: number): number[] {
  return [...Array<number>(singles).fill(1), ...Array<number>(batches).fill(batchSize)]
}

/**
 * Concurrent clients sharing one work list, each behaving as a careful producer should: take the next
 * events, POST them with their event_id, record what came back, and send again whatever did not get a
 * 2xx `created` or `duplicate` (after Retry-After when the service gives one) until it does. A retry
 * carries the same event_id, so it can never store an event twice.
 */
export async function runClients (options: ClientOptions): Promise<Ledger> {
  const ledger: Ledger = { attempts: [], acknowledged: new Map() }
  const pending = [...options.eventIds]
  const timeoutMs = options.requestTimeoutMs ?? 30000
  const stopped = (): boolean => options.shouldStop?.() === true

  async function client (batchSize: number): Promise<void> {
    let ids = pending.splice(0, batchSize)
    while (ids.length > 0 && !stopped()) {
      const attempt = await post(options.baseUrl, options.token, ids, batchSize > 1, timeoutMs)
      ledger.attempts.push(attempt)
      const ok = attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300
      const unacknowledged = ids.filter((eventId, i) => {
        const outcome = ok ? attempt.outcomes?.[i] : undefined
        if (outcome !== 'created' && outcome !== 'duplicate') return true
        if (!ledger.acknowledged.has(eventId)) ledger.acknowledged.set(eventId, outcome)
        return false
      })
      options.onAttempt?.(attempt, ledger)
      if (unacknowledged.length > 0) {
        await sleep(Math.max(options.retryDelayMs, (attempt.retryAfterSeconds ?? 0) * 1000))
        ids = unacknowledged
      } else {
        ids = pending.splice(0, batchSize)
      }
    }
  }

  await Promise.all(options.clients.map((batchSize) => client(batchSize)))
  return ledger
}

export function eventIds (prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`)
}

function probeEvent (eventId: string): Record<string, unknown> {
  return {
    event_type: 'FaultProbe',
    username: 'fault-client',
    entitytype: 'probe',
    ip: '127.0.0.1',
    location: 'fault-test',
    description: `event ${eventId}`,
    event_id: eventId,
    event_specificdetails: { eventId }
  }
}

async function post (baseUrl: string, token: string, ids: string[], asBatch: boolean, timeoutMs: number): Promise<Attempt> {
  const startedAt = Date.now()
  try {
    const response = await fetch(`${baseUrl}${asBatch ? '/events/batch' : '/events'}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(asBatch ? { events: ids.map(probeEvent) } : probeEvent(ids[0] as string)),
      signal: AbortSignal.timeout(timeoutMs)
    })
    const body = parseBody(await response.text())
    const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN)
    return {
      eventIds: ids,
      startedAt,
      endedAt: Date.now(),
      status: response.status,
      outcomes: body.outcomes,
      code: body.code,
      ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {})
    }
  } catch (err) {
    return { eventIds: ids, startedAt, endedAt: Date.now(), error: errorCode(err) }
  }
}

/** Outcomes: `{status}` for one event, `{items: [{status}]}` for a batch. Code: an error body's `code`. */
function parseBody (text: string): { outcomes?: string[], code?: string } {
  try {
    const parsed = JSON.parse(text) as { status?: unknown, items?: Array<{ status?: unknown }>, code?: unknown }
    if (Array.isArray(parsed.items)) return { outcomes: parsed.items.map((item) => String(item.status)) }
    if (typeof parsed.status === 'string') return { outcomes: [parsed.status] }
    return typeof parsed.code === 'string' ? { code: parsed.code } : {}
  } catch {
    return {}
  }
}

function errorCode (err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'TIMEOUT'
  const cause = (err as { cause?: { code?: string, name?: string } }).cause
  return cause?.code ?? cause?.name ?? (err as Error).name
}

export interface Figures {
  acknowledged: number
  /** Acknowledged events found in the database. */
  stored: number
  lost: number
  /** event_ids stored more than once (acknowledged or not). */
  duplicated: number
  /** Stored but never acknowledged: the answer was lost, the event was not; a retry would say `duplicate`. */
  storedUnacknowledged: number
}

/** Counts, through the driver, how many times each event_id is stored, and compares with the ledger. */
export async function compareWithDatabase (mongodbUrl: string, database: string, ledger: Ledger): Promise<Figures> {
  const client = new MongoClient(mongodbUrl, { serverSelectionTimeoutMS: 10000 })
  try {
    const counts = new Map<string, number>()
    const rows = client.db(database).collection('events')
      // the clients' events: the service's own entries (a retention policy's, an audit record) carry no event_id, and
      // grouped together under null they read as one event stored twice
      .aggregate<{ _id: string, n: number }>([
        { $match: { tenant: FAULT_TENANT, event_id: { $type: 'string' } } },
        { $group: { _id: '$event_id', n: { $sum: 1 } } }
      ])
    for await (const row of rows) counts.set(row._id, row.n)

    let stored = 0
    for (const eventId of ledger.acknowledged.keys()) if (counts.has(eventId)) stored++
    let duplicated = 0
    let storedUnacknowledged = 0
    for (const [eventId, n] of counts) {
      if (n > 1) duplicated++
      if (!ledger.acknowledged.has(eventId)) storedUnacknowledged++
    }
    const acknowledged = ledger.acknowledged.size
    return { acknowledged, stored, lost: acknowledged - stored, duplicated, storedUnacknowledged }
  } finally {
    await client.close()
  }
}

export function figuresLine (figures: Figures): string {
  return `acknowledged ${figures.acknowledged}, stored ${figures.stored}, lost ${figures.lost}, duplicated ${figures.duplicated}`
}

/** How many attempts ended each way: `201`, `503 DATABASE_UNAVAILABLE`, `ECONNREFUSED`... */
export function tally (attempts: Attempt[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const attempt of attempts) {
    const key = attempt.status !== undefined
      ? [attempt.status, attempt.code].filter((part) => part !== undefined).join(' ')
      : attempt.error ?? 'unknown'
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

/** Events inside 2xx answers that were neither created nor duplicate (a batch item the database refused). */
export function refusedInsideSuccess (attempts: Attempt[]): number {
  let refused = 0
  for (const attempt of attempts) {
    if (attempt.status === undefined || attempt.status >= 300) continue
    refused += attempt.eventIds.filter((_, i) => !['created', 'duplicate'].includes(attempt.outcomes?.[i] ?? '')).length
  }
  return refused
}

export interface SequenceFigures {
  events: number
  /** Events of the tenant stored without a seq. */
  withoutSeq: number
  /** Seqs held by more than one event. */
  sharedSeqs: number
  highestSeq: number
  /** Seqs up to the highest without an event, for which the service recorded a reason. */
  recordedHoles: number
  /** Seqs up to the highest without an event and without a recorded reason: evidence of deletion. */
  unrecordedHoles: number[]
  /** Claimed ranges not yet settled. */
  unsettledClaims: number
}

/**
 * Reads the tenant's sequence straight from the database, as an auditor with database access would,
 * without the service's code: the events' seqs, and the holes the service recorded (folded, or still in a
 * commit record). Polls until every claim is settled or `waitMs` passes.
 */
export async function sequenceFigures (mongodbUrl: string, database: string, waitMs = 20000): Promise<SequenceFigures> {
  const client = new MongoClient(mongodbUrl, { serverSelectionTimeoutMS: 10000 })
  try {
    const db = client.db(database)
    const deadline = Date.now() + waitMs
    for (;;) {
      const figures = await readSequence(db)
      if ((figures.unsettledClaims === 0 && figures.unrecordedHoles.length === 0) || Date.now() > deadline) return figures
      await sleep(250)
    }
  } finally {
    await client.close()
  }
}

async function readSequence (db: ReturnType<MongoClient['db']>): Promise<SequenceFigures> {
  const seqs = new Map<number, number>()
  let events = 0
  let withoutSeq = 0
  for await (const doc of db.collection('events').find({ tenant: FAULT_TENANT }, { projection: { seq: 1 } })) {
    events++
    if (typeof doc.seq !== 'number') withoutSeq++
    else seqs.set(doc.seq, (seqs.get(doc.seq) ?? 0) + 1)
  }
  const recorded = new Set<number>()
  for await (const hole of db.collection('sequence_holes').find({ tenant: FAULT_TENANT })) recorded.add(hole.seq as number)
  const committed = new Set<number>()
  for await (const commit of db.collection('sequence_commits').find({ tenant: FAULT_TENANT })) {
    committed.add(commit.first as number)
    for (const hole of commit.holes as Array<{ seq: number }>) recorded.add(hole.seq)
  }
  // the tenant's counter is the highest of the folders' marks
  let folded = 0
  for await (const mark of db.collection('sequence_counters').find({ tenant: FAULT_TENANT })) {
    folded = Math.max(folded, mark.committed as number)
  }
  const claims = await db.collection('sequence_claims').find({ tenant: FAULT_TENANT }).toArray()
  // a claim also carries the settlements of the same replica's earlier claims
  for (const claim of claims) {
    for (const settled of (claim.settles ?? []) as Array<{ first: number, holes: Array<{ seq: number }> }>) {
      committed.add(settled.first)
      for (const hole of settled.holes) recorded.add(hole.seq)
    }
  }
  let unsettledClaims = 0
  for (const claim of claims) {
    if ((claim.first as number) > folded && !committed.has(claim.first as number)) unsettledClaims++
  }
  const highestSeq = Math.max(0, ...seqs.keys())
  const unrecordedHoles: number[] = []
  let recordedHoles = 0
  for (let seq = 1; seq <= highestSeq; seq++) {
    if (seqs.has(seq)) continue
    if (recorded.has(seq)) recordedHoles++
    else unrecordedHoles.push(seq)
  }
  return {
    events,
    withoutSeq,
    sharedSeqs: [...seqs.values()].filter((n) => n > 1).length,
    highestSeq,
    recordedHoles,
    unrecordedHoles,
    unsettledClaims
  }
}

export function sequenceLine (figures: SequenceFigures): string {
  return `seq 1..${figures.highestSeq}: ${figures.events} events, ${figures.recordedHoles} recorded holes, ` +
    `${figures.unrecordedHoles.length} unrecorded, ${figures.sharedSeqs} shared, ${figures.withoutSeq} without seq`
}

/** Checks the sequence properties every scenario must keep. */
export function assertGaplessSequence (t: Test, figures: SequenceFigures, stored: number): void {
  t.equal(figures.withoutSeq, 0, 'every stored event has a seq')
  t.equal(figures.sharedSeqs, 0, 'no seq is held by two events')
  t.same(figures.unrecordedHoles.slice(0, 10), [], 'every seq without an event is a hole the service recorded')
  t.equal(figures.unsettledClaims, 0, 'every claimed range is settled')
  t.equal(figures.events, stored, 'the sequence counts every stored event')
  t.equal(figures.highestSeq, figures.events + figures.recordedHoles, 'seq runs 1..N over events and recorded holes')
}
