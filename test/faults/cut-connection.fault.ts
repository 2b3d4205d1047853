import t from 'tap'
import {
  compareWithDatabase, createWriterToken, eventIds, figuresLine, mixedClients, refusedInsideSuccess, runClients, runDatabaseName,
  sleep, startDatabase, startService, stopService, tally
} from './harness.js'
import { startTcpProxy } from './tcp-proxy.js'

/**
 * Fault 3: the service reaches its database through a TCP proxy the test controls; mid-ingest the
 * proxy resets every connection and refuses new ones for a few seconds, then forwards again. While cut
 * the service answers 503 and never 2xx, each request within a bounded time (a liveness bound: it must
 * not hang on a dead socket); afterwards it recovers by itself; every acknowledged event is stored.
 */
const EVENTS = 4000
const CUT_AFTER_ACKS = 1500
const CUT_MS = 3000
const DB_TIMEOUT_MS = 1000
const QUERY_MAX_TIME_MS = 5000
/**
 * Generous on purpose: a request that takes longer is hanging, not slow. A request may wait for the
 * group-commit write ahead of it and then its own, each at most a server selection (DB_TIMEOUT_MS) and
 * a duplicate lookup (QUERY_MAX_TIME_MS); the rest is margin for a busy machine.
 */
const LIVENESS_BOUND_MS = 2 * (DB_TIMEOUT_MS + QUERY_MAX_TIME_MS) + 5000
const GIVE_UP_AFTER_MS = 150000

t.test('the link to the database cut mid-ingest: 503 within a bounded time, recovery, nothing lost', async (t) => {
  const db = await startDatabase()
  t.teardown(() => db.stop())
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: db.port })
  t.teardown(() => proxy.close())
  const database = runDatabaseName('cut_connection')
  const token = await createWriterToken(db.url, database)
  const service = await startService({
    MONGODB_URL: `mongodb://127.0.0.1:${proxy.port}/`,
    MONGODB_DATABASE: database,
    DB_TIMEOUT_MS: String(DB_TIMEOUT_MS),
    QUERY_MAX_TIME_MS: String(QUERY_MAX_TIME_MS)
  })
  t.teardown(() => stopService(service))

  let cutAt = 0
  let restoredAt = 0
  let outage: Promise<void> | undefined
  const giveUpAt = Date.now() + GIVE_UP_AFTER_MS
  const ledger = await runClients({
    baseUrl: service.baseUrl,
    token,
    eventIds: eventIds('cut-connection', EVENTS),
    clients: mixedClients(12, 2, 20),
    retryDelayMs: 100,
    requestTimeoutMs: LIVENESS_BOUND_MS * 3,
    shouldStop: () => Date.now() > giveUpAt,
    onAttempt (_attempt, ledger) {
      if (outage !== undefined || ledger.acknowledged.size < CUT_AFTER_ACKS) return
      outage = (async () => {
        proxy.cut()
        cutAt = Date.now()
        await sleep(CUT_MS)
        proxy.restore()
        restoredAt = Date.now()
      })()
    }
  })
  await outage

  const whileCut = ledger.attempts.filter((a) => a.startedAt >= cutAt && a.endedAt <= restoredAt)
  const firstAckAfter = ledger.attempts
    .filter((a) => a.startedAt >= restoredAt && a.status !== undefined && a.status < 300)
    .reduce((first, a) => Math.min(first, a.endedAt), Infinity)
  const longest = ledger.attempts.reduce((max, a) => Math.max(max, a.endedAt - a.startedAt), 0)
  const longestWhileCut = whileCut.reduce((max, a) => Math.max(max, a.endedAt - a.startedAt), 0)
  t.comment(`link cut ${restoredAt - cutAt} ms, ${whileCut.length} requests answered meanwhile ${JSON.stringify(tally(whileCut))} ` +
    `(slowest ${longestWhileCut} ms); first acknowledgement ${firstAckAfter - restoredAt} ms after the link was back; ` +
    `slowest request overall ${longest} ms; all attempts ${JSON.stringify(tally(ledger.attempts))}`)

  const figures = await compareWithDatabase(db.url, database, ledger)
  t.comment(figuresLine(figures))
  t.ok(whileCut.length > 0, 'requests were answered while the link was cut')
  t.same(whileCut.filter((a) => a.status !== 503), [], 'while it was cut, every answer was 503')
  t.same(ledger.attempts.filter((a) => a.status === undefined || (a.status >= 300 && a.status !== 503)), [],
    'throughout, every answer was 2xx or 503, and every request got one')
  t.same(ledger.attempts.filter((a) => a.endedAt - a.startedAt > LIVENESS_BOUND_MS), [],
    `every request was answered within ${LIVENESS_BOUND_MS} ms (none hung)`)
  t.equal(refusedInsideSuccess(ledger.attempts), 0, 'no 2xx carried a refused event')
  t.equal(service.child.exitCode, null, 'the service recovered without a restart')
  t.equal(figures.acknowledged, EVENTS, 'every event was eventually acknowledged')
  t.equal(figures.stored, figures.acknowledged, 'every acknowledged event is stored')
  t.equal(figures.lost, 0, 'none lost')
  t.equal(figures.duplicated, 0, 'none stored twice')
  // the service's last log lines say why, when something above failed
  if (!t.passing()) t.comment(service.outputTail())
})
