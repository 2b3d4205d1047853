import t from 'tap'
import { MongoClient } from 'mongodb'
import { parse } from 'csv-parse/sync'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { MONGODB_URL, bearer, build, sampleEvent, testConfig, testDatabaseName, userWithToken } from '../helper.js'

/**
 * Sequence numbers as a client sees them: in every answer and read path, by afterSeq, and in the
 * completeness report, which tells a recorded hole (a duplicate event_id) from one nobody recorded (an
 * event deleted behind the service's back, through a second database client).
 */
async function post (app: FastifyInstance, token: string, url: string, payload: unknown) {
  return await app.inject({ method: 'POST', url, headers: bearer(token), payload: payload as Record<string, unknown> })
}

t.test('sequence numbers, afterSeq and completeness', async (t) => {
  const app = await build(t, { config: { SEQUENCE_FOLD_MS: 20 } })
  const writer = await userWithToken(app, { username: 'seq-writer', roles: ['writer'], tenant: 'tenant-s' })
  const reader = await userWithToken(app, { username: 'seq-reader', roles: ['reader'], tenant: 'tenant-s' })
  const otherWriter = await userWithToken(app, { username: 'seq-other', roles: ['writer', 'reader'], tenant: 'tenant-o' })

  const one = await post(app, writer, '/events', sampleEvent({ event_id: 'first' }))
  t.equal(one.statusCode, 201)
  t.equal(one.json().seq, 1, 'the tenant\'s first event is seq 1')
  const batch = await post(app, writer, '/events/batch', {
    events: [sampleEvent(), sampleEvent({ event_id: 'first' }), sampleEvent({ event_id: 'b' }), sampleEvent()]
  })
  t.same(
    batch.json().items.map((item: { status: string; seq?: number }) => [item.status, item.seq]),
    [
      ['created', 2],
      ['duplicate', 1],
      ['created', 3],
      ['created', 4]
    ],
    "a batch continues the sequence; a duplicate carries the first event's seq"
  )
  const again = await post(app, writer, '/events', sampleEvent({ event_id: 'b' }))
  t.same(
    [again.statusCode, again.json().seq, again.json().id],
    [200, 3, batch.json().items[2].id],
    "a repeat answers the first event's seq and id"
  )
  t.equal((await post(app, otherWriter, '/events', sampleEvent())).json().seq, 1, 'another tenant starts its own sequence at 1')
  // concurrent singles share group commits: all distinct, no gap
  const burst = await Promise.all(
    Array.from({ length: 30 }, (_, i) => post(app, writer, '/events', sampleEvent({ event_id: `burst-${i}` })))
  )
  const burstSeqs = burst.map((res) => res.json().seq as number).sort((a, b) => a - b)
  t.same(burstSeqs, Array.from({ length: 30 }, (_, i) => 5 + i), 'concurrent events get seqs 5..34, each once')

  await t.test('every read path carries seq', async (t) => {
    const id = one.json().id as string
    t.equal((await app.inject({ method: 'GET', url: `/events/${id}`, headers: bearer(reader) })).json().seq, 1, 'GET /events/{id}')
    const list = await app.inject({ method: 'GET', url: '/events?limit=1000', headers: bearer(reader) })
    t.same(
      list
        .json()
        .items.map((e: { seq: number }) => e.seq)
        .sort((a: number, b: number) => a - b),
      Array.from({ length: 34 }, (_, i) => i + 1),
      'GET /events'
    )
    const ndjson = await app.inject({ method: 'GET', url: '/events/export?event_id=first', headers: bearer(reader) })
    t.equal(JSON.parse(ndjson.body.trim()).seq, 1, 'NDJSON export')
    const csv = parse(
      (await app.inject({ method: 'GET', url: '/events/export?event_id=first&format=csv', headers: bearer(reader) })).body
    ) as string[][]
    t.equal(csv[1]?.[(csv[0] as string[]).indexOf('seq')], '1', 'CSV export')
  })

  await t.test('afterSeq reads the rest of the log in seq order, and next_cursor continues it', async (t) => {
    await app.sequencer.flush()
    const first = await app.inject({ method: 'GET', url: '/events?afterSeq=3&order=asc&limit=10', headers: bearer(reader) })
    t.equal(first.statusCode, 200)
    t.same(first.json().items.map((e: { seq: number }) => e.seq), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    const next = await app.inject({
      method: 'GET',
      url: `/events?afterSeq=3&order=asc&limit=10&cursor=${encodeURIComponent(first.json().next_cursor as string)}`,
      headers: bearer(reader)
    })
    t.same(next.json().items.map((e: { seq: number }) => e.seq), [14, 15, 16, 17, 18, 19, 20, 21, 22, 23])
    const end = await app.inject({ method: 'GET', url: '/events?afterSeq=34&order=asc', headers: bearer(reader) })
    t.same(end.json(), { items: [], next_cursor: null }, 'nothing after the last seq')
    const filtered = await app.inject({ method: 'GET', url: '/events?afterSeq=0&order=asc&event_id=b', headers: bearer(reader) })
    t.same(filtered.json().items.map((e: { seq: number }) => e.seq), [3], 'filters combine with afterSeq')
    const exported = await app.inject({ method: 'GET', url: '/events/export?afterSeq=32', headers: bearer(reader) })
    t.same(exported.body.trim().split('\n').map((line) => JSON.parse(line).seq), [33, 34], 'export by afterSeq')
    const bad = await app.inject({ method: 'GET', url: '/events?afterSeq=-1', headers: bearer(reader) })
    t.equal(bad.statusCode, 400, 'a negative afterSeq is refused')
  })

  await t.test('completeness: complete, with no hole, for an untouched log', async (t) => {
    await app.sequencer.flush()
    const res = await app.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(reader) })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { tenant: 'tenant-s', first_seq: 1, last_seq: 34, count: 34, complete: true, holes: [], in_flight: 0 })
    t.equal((await app.inject({ method: 'GET', url: '/integrity/completeness' })).statusCode, 401, 'needs a token')
    t.equal(
      (await app.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(writer) })).statusCode,
      403,
      'needs the reader role'
    )
  })

  await t.test('completeness: an event deleted through a second client is an unexplained hole', async (t) => {
    const outsider = new MongoClient(MONGODB_URL)
    t.teardown(() => outsider.close())
    const deleted = await outsider.db(testDatabaseName).collection('events').deleteOne({ tenant: 'tenant-s', seq: 10 })
    t.equal(deleted.deletedCount, 1)
    const res = await app.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(reader) })
    t.match(res.json(), { last_seq: 34, count: 33, complete: false, holes: [{ from: 10, to: 10, reason: 'unexplained' }] })
  })

  await t.test('completeness for a time range says which seqs it covers', async (t) => {
    const list = (await app.inject({ method: 'GET', url: '/events?afterSeq=0&order=asc&limit=1000', headers: bearer(reader) })).json()
      .items as Array<{ seq: number; timestamp: string }>
    const start = (list.find((e) => e.seq === 5) as { timestamp: string }).timestamp
    const res = await app.inject({
      method: 'GET',
      url: `/integrity/completeness?timeStart=${encodeURIComponent(start)}`,
      headers: bearer(reader)
    })
    t.match(res.json().time_range, { timeStart: start, last_seq: 34 })
    t.ok((res.json().time_range.first_seq as number) <= 5, 'the range starts at or before seq 5')
    const empty = await app.inject({ method: 'GET', url: '/integrity/completeness?timeEnd=2000-01-01T00:00:00Z', headers: bearer(reader) })
    t.match(empty.json().time_range, { first_seq: null, last_seq: null, count: 0 })
    const backwards = await app.inject({
      method: 'GET',
      url: '/integrity/completeness?timeStart=2024-01-02T00:00:00Z&timeEnd=2024-01-01T00:00:00Z',
      headers: bearer(reader)
    })
    t.equal(backwards.statusCode, 400)
  })
})

t.test('a duplicate across replicas is a recorded hole, not an unexplained one', async (t) => {
  const app = await build(t, { config: { SEQUENCE_FOLD_MS: 20 } })
  const writer = await userWithToken(app, { username: 'dup-writer', roles: ['writer', 'reader'], tenant: 'tenant-d' })
  // a second app on the same database: a replica whose cache of recent event_ids knows nothing
  const replica = await buildApp({ config: testConfig({ SEQUENCE_FOLD_MS: 20 }) })
  t.teardown(() => replica.close())
  t.equal((await post(app, writer, '/events', sampleEvent({ event_id: 'twice' }))).statusCode, 201)
  const repeat = await post(replica, writer, '/events', sampleEvent({ event_id: 'twice' }))
  t.same(
    [repeat.statusCode, repeat.json().status, repeat.json().seq],
    [200, 'duplicate', 1],
    'the other replica answers duplicate with seq 1'
  )
  t.equal((await post(app, writer, '/events', sampleEvent())).json().seq, 3, 'the duplicate spent seq 2')
  // settlements are written within milliseconds, or carried by the next claim; do not wait for either
  await Promise.all([app.sequencer.flush(), replica.sequencer.flush()])
  const report = await app.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(writer) })
  t.match(report.json(), { last_seq: 3, count: 2, complete: true, holes: [{ from: 2, to: 2, reason: 'duplicate_event_id' }] })
})

t.test('events stored before sequence numbers get them at startup, in receipt order', async (t) => {
  await build(t)
  const outsider = new MongoClient(MONGODB_URL)
  t.teardown(() => outsider.close())
  const events = outsider.db(testDatabaseName).collection('events')
  const legacy = [3, 1, 2].map((n) => ({
    ...sampleEvent({ description: `legacy ${n}` }),
    tenant: 'tenant-legacy',
    submitted_by: 'old',
    idem_key: `i:legacy-${n}`,
    timestamp: new Date(Date.UTC(2024, 0, n))
  }))
  // an old database has no (tenant, seq) index yet: drop it to stand for one
  await events.dropIndex('tenant_seq')
  await events.insertMany(legacy)
  const restarted = await buildApp({ config: testConfig() })
  t.teardown(() => restarted.close())
  await restarted.ready()
  const numbered = await events.find({ tenant: 'tenant-legacy' }).sort({ seq: 1 }).toArray()
  t.same(numbered.map((doc) => [doc.seq, doc.description]), [[1, 'legacy 1'], [2, 'legacy 2'], [3, 'legacy 3']])
  t.ok(
    (await events.listIndexes().toArray()).some((index) => index.name === 'tenant_seq' && index.unique === true),
    'the unique (tenant, seq) index exists afterwards'
  )
  const again = await buildApp({ config: testConfig() })
  t.teardown(() => again.close())
  await again.ready()
  t.same(
    (await events.find({ tenant: 'tenant-legacy' }).sort({ seq: 1 }).toArray()).map((doc) => doc.seq),
    [1, 2, 3],
    'a second start changes nothing'
  )
})
