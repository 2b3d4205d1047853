import t from 'tap'
import { buildApp } from '../../../src/app.js'
import { MongoClient } from 'mongodb'
import { EmbeddedLimit, scanLimit } from '../../../src/plugins/app/storage/embedded-limit.js'
import { bearer, build, MONGODB_URL, sampleEvent, testConfig, testDatabaseName, userWithToken } from '../../helper.js'
import { Sequencer } from '../../../src/plugins/app/events/sequencer.js'

/**
 * The embedded default's wall, said plainly: FerretDB scans every stored event per read, so past
 * QUERY_MAX_TIME_MS / EMBEDDED_SCAN_US_PER_EVENT events every read times out. The service warns once,
 * in its log and in GET /health/ready, and its QUERY_TIMEOUT says why and where to go.
 */
t.test('the limit is the query time limit divided by the measured per-event scan cost', async (t) => {
  t.equal(scanLimit({ maxTimeMs: 5000, scanMicrosPerEvent: 80 }), 62500, 'the issue\'s figures: 5 s at 80 µs per event')
  t.equal(scanLimit({ maxTimeMs: 5000, scanMicrosPerEvent: 200 }), 25000)
  t.equal(scanLimit({ maxTimeMs: 1000, scanMicrosPerEvent: 0.5 }), 2000000, 'a fractional cost is allowed')
})

t.test('past the limit the service warns once in its log and in /health/ready; below it, nothing', async (t) => {
  const lines: string[] = []
  // 1 s at 100 ms per event: the limit is 10 events
  const config = testConfig({ QUERY_MAX_TIME_MS: 1000, EMBEDDED_SCAN_US_PER_EVENT: 100000, SEQUENCE_FOLD_MS: 20 })
  const app = await buildApp({ config }, { logger: { level: 'warn', stream: { write: (line: string) => lines.push(line) } } })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(app.databaseKind, 'ferretdb', 'the tests run on FerretDB, where the warning applies')
  t.equal(app.embeddedLimit.limit, 10)
  const headers = bearer(await userWithToken(app, { username: 'limit-writer', roles: ['writer', 'reader'] }))
  const ingest = async (count: number, tenantHeaders = headers): Promise<void> => {
    const res = await app.inject({
      method: 'POST',
      url: '/events/batch',
      headers: tenantHeaders,
      payload: { events: Array.from({ length: count }, () => sampleEvent()) }
    })
    t.equal(res.statusCode, 200)
  }
  const settledSize = async (expected: number): Promise<number> => {
    let size = 0
    for (let attempt = 0; attempt < 200 && size < expected; attempt++) {
      size = await app.sequencer.foldedSeqCount()
      if (size < expected) await new Promise((resolve) => setTimeout(resolve, 25))
    }
    return size
  }

  await ingest(6)
  t.equal(await settledSize(6), 6, 'the size is read from the sequence counters once they are folded')
  await app.embeddedLimit.check()
  t.same((await app.inject({ method: 'GET', url: '/health/ready' })).json(), { status: 'ok' }, 'below the limit: no warning')
  t.equal(lines.filter((line) => line.includes('EMBEDDED_DATABASE_OUTGROWN')).length, 0, 'and nothing in the log')

  // another tenant's events count too: FerretDB scans the whole collection, every tenant's events
  const other = bearer(await userWithToken(app, { username: 'other-writer', roles: ['writer'], tenant: 'other-tenant' }))
  await ingest(5, other)
  t.equal(await settledSize(11), 11, 'the sizes of all tenants add up')
  await app.embeddedLimit.check()
  await app.embeddedLimit.check()
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200, 'still ready: the service works, it is the reads that slow down')
  t.match(ready.json(), {
    status: 'ok',
    warnings: [
      { code: 'EMBEDDED_DATABASE_OUTGROWN', stored_events: 11, limit_events: 10, message: /FerretDB.*QUERY_MAX_TIME_MS.*MongoDB.*README/ }
    ]
  })
  const logged = lines.filter((line) => line.includes('EMBEDDED_DATABASE_OUTGROWN'))
  t.equal(logged.length, 1, 'the log warns once, however often the size is looked at')
  t.match(JSON.parse(logged[0] as string), { level: 40, stored_events: 11, limit_events: 10, msg: /Move to MongoDB/ })
  t.same((await app.inject({ method: 'GET', url: '/health/live' })).json(), { status: 'ok' }, 'liveness carries no warning')
})

t.test('the size is found without reading the event log', async (t) => {
  const app = await build(t)
  // a client of its own, so that only the check's commands are seen (the app's timers read other collections)
  const client = new MongoClient(MONGODB_URL, { monitorCommands: true })
  t.teardown(() => client.close())
  const collections: string[] = []
  client.on('commandStarted', (event) => {
    if (['find', 'count', 'aggregate', 'getMore'].includes(event.commandName)) collections.push(String(event.command[event.commandName]))
  })
  const db = client.db(testDatabaseName)
  const sequencer = new Sequencer(db, db.collection('events'), { foldIntervalMs: 1000, staleAfterMs: 60000 })
  const limit = new EmbeddedLimit(sequencer, { maxTimeMs: 5000, scanMicrosPerEvent: 80 }, () => {})
  await limit.check()
  t.same(collections, ['sequence_counters'], 'one find, on the counters, never on events')
  t.equal(limit.warning, undefined)
  t.ok(app.embeddedLimit.limit > 0)
})

t.test('on FerretDB a query over its time limit says why and points at MongoDB', async (t) => {
  const app = await build(t, { config: { QUERY_MAX_TIME_MS: 1 } })
  const headers = bearer(await userWithToken(app, { username: 'timeout-reader', roles: ['writer', 'reader'] }))
  // enough events that one scan surely outlasts 1 ms, however idle the machine
  for (let batch = 0; batch < 3; batch++) {
    const stored = await app.inject({
      method: 'POST',
      url: '/events/batch',
      headers,
      payload: { events: Array.from({ length: 200 }, () => sampleEvent()) }
    })
    t.equal(stored.statusCode, 200)
  }
  const res = await app.inject({ method: 'GET', url: '/events?limit=50&details.n=7', headers })
  t.equal(res.statusCode, 503, res.body)
  t.equal(res.headers['retry-after'], '1')
  const body = res.json()
  t.match(body, { statusCode: 503, code: 'QUERY_TIMEOUT', error: 'Service Unavailable', requestId: String })
  t.match(body.message, /FerretDB \(the embedded default\)/, 'why: the embedded database')
  t.match(body.message, /reads every stored event/, 'why: every read scans the log')
  t.match(body.message, /MongoDB.*README, "Running with MongoDB \(Docker\)"/, 'what to do, and where it is written')
})
