import t, { type Test } from 'tap'
import { BriefSampleEvent } from '../../src/schemas/event.js'
import { createWriterToken, runDatabaseName, sleep, startDatabase, startService, stopService, type ServiceProcess } from './harness.js'

/**
 * While the database is gone (killed), every request is answered 503 with Retry-After within DB_TIMEOUT_MS and a
 * margin, concurrent writes of one tenant included; while it hangs (stopped: its connections stay open and answer
 * nothing), within twice DB_TIMEOUT_MS and about a second. Readiness answers 503 within 2 s whatever DB_TIMEOUT_MS
 * is. Two services on one database: one with a short DB_TIMEOUT_MS (the request bound), one with a long one
 * (readiness must not wait for it).
 * The margins are generous, for a loaded machine: the bounds are seconds, the failures they catch were many.
 */
const SHORT_TIMEOUT_MS = 1000
const LONG_TIMEOUT_MS = 8000
/** What "a small margin" may take on a loaded machine with two cores. */
const MARGIN_MS = 1500
const READY_BOUND_MS = 2000 + 1000
/** The driver's heartbeat (plugins/external/mongodb.ts). */
const HEARTBEAT_MS = 500
const OBSERVE_MS = 6000
const CLIENTS = 8

interface Answer { what: string, status?: number, retryAfter?: string | null, ms: number, at: number }

async function timed (what: string, url: string, init: RequestInit): Promise<Answer> {
  const started = Date.now()
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30000) })
    await response.body?.cancel()
    return { what, status: response.status, retryAfter: response.headers.get('retry-after'), ms: Date.now() - started, at: started }
  } catch {
    return { what, ms: Date.now() - started, at: started }
  }
}

/** Concurrent writers, readers and readiness probes against both services for OBSERVE_MS. */
async function observe (short: ServiceProcess, long: ServiceProcess, token: string, label: string): Promise<Answer[]> {
  const answers: Answer[] = []
  const until = Date.now() + OBSERVE_MS
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  let n = 0
  const loop = async (next: () => Promise<Answer>): Promise<void> => {
    while (Date.now() < until) {
      answers.push(await next())
      await sleep(50)
    }
  }
  const event = () => JSON.stringify({ ...BriefSampleEvent, event_id: `${label}-${++n}` })
  await Promise.all([
    ...Array.from({ length: CLIENTS }, async () => await loop(async () => await timed('write', `${short.baseUrl}/events`, { method: 'POST', headers, body: event() }))),
    loop(async () => await timed('read', `${short.baseUrl}/events?limit=5`, { headers })),
    loop(async () => await timed('ready (short DB_TIMEOUT_MS)', `${short.baseUrl}/health/ready`, {})),
    loop(async () => await timed('ready (long DB_TIMEOUT_MS)', `${long.baseUrl}/health/ready`, {}))
  ])
  return answers
}

function check (t: Test, answers: Answer[], label: string, boundMs: number): void {
  const slowest = new Map<string, number>()
  for (const a of answers) slowest.set(a.what, Math.max(slowest.get(a.what) ?? 0, a.ms))
  t.comment(`${label}: ${answers.length} answers; slowest ${JSON.stringify(Object.fromEntries(slowest))} ms`)
  const start = Math.min(...answers.map((a) => a.at))
  const slow = [...answers].sort((a, b) => b.ms - a.ms).slice(0, 5).map((a) => `${a.what} sent at +${a.at - start} ms took ${a.ms} ms`)
  t.comment(`${label}: slowest answers: ${slow.join('; ')}`)
  t.ok(answers.length > CLIENTS, `${label}: requests were answered`)
  t.same(answers.filter((a) => a.status !== 503 || a.retryAfter === null), [], `${label}: every answer was 503 with Retry-After`)
  const requests = answers.filter((a) => !a.what.startsWith('ready'))
  t.same(requests.filter((a) => a.ms > boundMs), [], `${label}: every request was answered within ${boundMs} ms`)
  const ready = answers.filter((a) => a.what.startsWith('ready'))
  t.same(ready.filter((a) => a.ms > READY_BOUND_MS), [], `${label}: readiness answered within ${READY_BOUND_MS} ms, DB_TIMEOUT_MS ${LONG_TIMEOUT_MS} included`)
}

t.test('database down or hung: every request gets 503 within DB_TIMEOUT_MS, readiness within 2 s', async (t) => {
  const db = await startDatabase()
  t.teardown(() => db.stop())
  const database = runDatabaseName('database_down')
  const token = await createWriterToken(db.url, database, ['writer', 'reader'])
  const short = await startService({ MONGODB_URL: db.url, MONGODB_DATABASE: database, DB_TIMEOUT_MS: String(SHORT_TIMEOUT_MS) })
  t.teardown(() => stopService(short))
  const long = await startService({ MONGODB_URL: db.url, MONGODB_DATABASE: database, DB_TIMEOUT_MS: String(LONG_TIMEOUT_MS) })
  t.teardown(() => stopService(long))
  // writes flowing: the sequencer has its claims going and the writers' queues are in use when the database goes
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const warm = await timed('write', `${short.baseUrl}/events`, {
    method: 'POST', headers, body: JSON.stringify({ ...BriefSampleEvent, event_id: 'warm' })
  })
  t.equal(warm.status, 201, 'a write succeeds while the database is up')

  await db.kill()
  check(t, await observe(short, long, token, 'killed'), 'database killed', SHORT_TIMEOUT_MS + MARGIN_MS)

  await db.restart()
  for (const service of [short, long]) {
    let status = 0
    for (let i = 0; i < 120 && status !== 200; i++) {
      status = (await timed('ready', `${service.baseUrl}/health/ready`, {})).status ?? 0
      if (status !== 200) await sleep(250)
    }
    t.equal(status, 200, 'ready again once the database is back, without a restart')
  }

  db.pause()
  t.teardown(() => db.resume())
  // a hang is noticed by the driver's monitor (a heartbeat, then a hello that times out after DB_TIMEOUT_MS); the
  // operation it interrupted is retried once by the driver, which waits DB_TIMEOUT_MS more for a server
  check(t, await observe(short, long, token, 'hung'), 'database hung', 2 * SHORT_TIMEOUT_MS + HEARTBEAT_MS + 2 * MARGIN_MS)
  db.resume()
  if (!t.passing()) t.comment(short.outputTail())
})
