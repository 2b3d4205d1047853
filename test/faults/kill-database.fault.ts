import t from 'tap'
import {
  compareWithDatabase,
  createWriterToken,
  eventIds,
  figuresLine,
  mixedClients,
  runClients,
  refusedInsideSuccess,
  runDatabaseName,
  sleep,
  startDatabase,
  startService,
  stopService,
  tally
} from './harness.js'

/**
 * Fault 2: kill -9 the database mid-ingest, keep it down a few seconds, start it again on the same data
 * and port. While it is down the service answers 503 (with Retry-After) and never 2xx; afterwards it
 * recovers by itself, without a restart; every acknowledged event is stored.
 */
const EVENTS = 4000
const GIVE_UP_AFTER_MS = 150000
const KILL_AFTER_ACKS = 1500
const DOWN_MS = 3000
/** The longest the database stays down waiting for an answer to a request sent after it died. */
const DOWN_MAX_MS = 20_000
const DB_TIMEOUT_MS = 1000

t.test('the database killed mid-ingest: 503 while down, recovery without restart, nothing lost', async (t) => {
  const db = await startDatabase()
  t.teardown(() => db.stop())
  const database = runDatabaseName('kill_database')
  const token = await createWriterToken(db.url, database)
  const service = await startService({ MONGODB_URL: db.url, MONGODB_DATABASE: database, DB_TIMEOUT_MS: String(DB_TIMEOUT_MS) })
  t.teardown(() => stopService(service))

  let goneAt = 0
  let restartingAt = 0
  let backAt = 0
  let outage: Promise<void> | undefined
  const giveUpAt = Date.now() + GIVE_UP_AFTER_MS
  const ledger = await runClients({
    baseUrl: service.baseUrl,
    token,
    eventIds: eventIds('kill-database', EVENTS),
    clients: mixedClients(12, 2, 20),
    shouldStop: () => Date.now() > giveUpAt,
    retryDelayMs: 100,
    onAttempt (_attempt, ledger) {
      if (outage !== undefined || ledger.acknowledged.size < KILL_AFTER_ACKS) return
      outage = (async () => {
        await db.kill()
        goneAt = Date.now()
        await sleep(DOWN_MS)
        // on a loaded machine (two CI runs side by side) the clients' requests from before the kill can take the
        // whole window: the database stays down until one sent after it is answered, or DOWN_MAX_MS has passed
        while (Date.now() - goneAt < DOWN_MAX_MS && !ledger.attempts.some((a) => a.startedAt >= goneAt)) {
          await sleep(100)
        }
        restartingAt = Date.now()
        await db.restart()
        backAt = Date.now()
      })()
    }
  })
  await outage

  // requests sent after the database died and answered before it was being started again
  const whileDown = ledger.attempts.filter((a) => a.startedAt >= goneAt && a.endedAt <= restartingAt)
  const firstAckAfter = ledger.attempts
    .filter((a) => a.startedAt >= backAt && a.status !== undefined && a.status < 300)
    .reduce((first, a) => Math.min(first, a.endedAt), Infinity)
  t.comment(
    `database down ${restartingAt - goneAt} ms, ${whileDown.length} requests answered meanwhile ${JSON.stringify(tally(whileDown))}; ` +
      `first acknowledgement ${firstAckAfter - backAt} ms after the database was back; all attempts ${JSON.stringify(tally(ledger.attempts))}`
  )

  const figures = await compareWithDatabase(db.url, database, ledger)
  t.comment(figuresLine(figures))
  t.ok(whileDown.length > 0, 'requests were answered while the database was down')
  t.same(whileDown.filter((a) => a.status !== 503), [], 'while it was down, every answer was 503')
  t.same(ledger.attempts.filter((a) => a.status === undefined || (a.status >= 300 && a.status !== 503)), [],
    'throughout, every answer was 2xx or 503, and every request got one')
  t.equal(refusedInsideSuccess(ledger.attempts), 0, 'no 2xx carried a refused event')
  t.equal(service.child.exitCode, null, 'the service recovered without a restart')
  t.equal(figures.acknowledged, EVENTS, 'every event was eventually acknowledged')
  t.equal(figures.stored, figures.acknowledged, 'every acknowledged event is stored')
  t.equal(figures.lost, 0, 'none lost')
  t.equal(figures.duplicated, 0, 'none stored twice')
  // the service's last log lines say why, when something above failed
  if (!t.passing()) t.comment(service.outputTail())
})
