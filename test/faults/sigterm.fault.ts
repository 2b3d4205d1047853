import t from 'tap'
import {
  compareWithDatabase, createWriterToken, eventIds, figuresLine, mixedClients, refusedInsideSuccess, runClients, runDatabaseName,
  startDatabase, startService, stopService, tally, type Attempt
} from './harness.js'

/**
 * Fault 4: SIGTERM while clients are writing. Requests already in flight are answered, new ones are
 * turned away (503 while the listener drains, connection refused once it has closed), pending group
 * commits are written, and the process exits by itself within SHUTDOWN_GRACE_MS. Every acknowledged
 * event is stored, and nothing is stored that was not acknowledged.
 */
const EVENTS = 3000
const TERM_AFTER_ACKS = 1000
const SHUTDOWN_GRACE_MS = 5000
const GIVE_UP_AFTER_MS = 120000

const answered = (a: Attempt): boolean => a.status !== undefined
const acknowledgedAnswer = (a: Attempt): boolean => a.status !== undefined && a.status < 300

t.test('SIGTERM under load: in-flight requests finish, new ones are refused, exit within the grace period', async (t) => {
  const db = await startDatabase()
  t.teardown(() => db.stop())
  const database = runDatabaseName('sigterm')
  const token = await createWriterToken(db.url, database)
  const service = await startService({ MONGODB_URL: db.url, MONGODB_DATABASE: database, SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS) })
  t.teardown(() => stopService(service))

  let termAt = 0
  let gone = false
  void service.exited.then(() => { gone = true })
  const giveUpAt = Date.now() + GIVE_UP_AFTER_MS
  const ledger = await runClients({
    baseUrl: service.baseUrl,
    token,
    eventIds: eventIds('sigterm', EVENTS),
    clients: mixedClients(12, 2, 20),
    retryDelayMs: 50,
    // once the process is gone there is nobody to retry against: what was acknowledged is what counts
    shouldStop: () => gone || Date.now() > giveUpAt,
    onAttempt (_attempt, ledger) {
      if (termAt !== 0 || ledger.acknowledged.size < TERM_AFTER_ACKS) return
      termAt = Date.now()
      service.child.kill('SIGTERM')
    }
  })
  const exit = await service.exited

  const inFlight = ledger.attempts.filter((a) => a.startedAt < termAt && a.endedAt >= termAt)
  const after = ledger.attempts.filter((a) => a.startedAt >= termAt)
  // the signal is handled a moment after it is sent: until the first refusal, a new request may still be served
  const firstRefusal = after.filter((a) => !acknowledgedAnswer(a)).reduce((first, a) => Math.min(first, a.endedAt), Infinity)
  const servedAfterRefusal = after.filter((a) => a.startedAt > firstRefusal && acknowledgedAnswer(a))
  t.comment(`SIGTERM with ${inFlight.length} requests in flight ${JSON.stringify(tally(inFlight))}; ` +
    `requests sent afterwards ${JSON.stringify(tally(after))}; exit code ${String(exit.code)} ${exit.at - termAt} ms after SIGTERM`)

  const figures = await compareWithDatabase(db.url, database, ledger)
  t.comment(figuresLine(figures))
  t.ok(inFlight.length > 0, 'requests were in flight at SIGTERM')
  t.same(inFlight.filter((a) => !answered(a) || (a.status !== 503 && !acknowledgedAnswer(a))), [],
    'every request in flight at SIGTERM was answered, 2xx (or 503 if it reached the server after the signal)')
  t.ok(after.length > 0, 'requests were sent after SIGTERM')
  t.same(after.filter((a) => !acknowledgedAnswer(a) && a.status !== 503 && a.error !== 'ECONNREFUSED'), [],
    'after SIGTERM, a request not served got 503 or a refused connection')
  t.same(servedAfterRefusal, [], 'once refusing, the service served nothing new')
  t.equal(exit.code, 0, 'the process exited cleanly (a grace-period timeout exits 1)')
  t.ok(exit.at - termAt <= SHUTDOWN_GRACE_MS, `it exited within SHUTDOWN_GRACE_MS (${SHUTDOWN_GRACE_MS} ms)`)
  t.equal(refusedInsideSuccess(ledger.attempts), 0, 'no 2xx carried a refused event')
  t.equal(figures.stored, figures.acknowledged, 'every acknowledged event is stored')
  t.equal(figures.lost, 0, 'none lost')
  t.equal(figures.duplicated, 0, 'none stored twice')
  t.equal(figures.storedUnacknowledged, 0, 'nothing was stored without its answer being delivered')
})
