import t from 'tap'
import type { FastifyError } from 'fastify'
import { MongoClient, ObjectId, type CommandStartedEvent } from 'mongodb'
import { EventStore } from '../../../src/plugins/app/events/event-store.js'
import { idempotencyKey, type StoredEvent } from '../../../src/plugins/app/events/record.js'
import { EventWriter, type WriteOutcome } from '../../../src/plugins/app/events/event-writer.js'
import { Sequencer } from '../../../src/plugins/app/events/sequencer.js'
import { freePort } from '../../../src/embedded/ferretdb.js'
import { translateDatabaseError } from '../../../src/plugins/app/http/error-handler.js'
import { MONGODB_URL, bearer, build, sampleEvent, testDatabaseName, userWithToken } from '../../helper.js'

/**
 * Group commit. The EventWriter on its own, over a real EventStore on this file's database (its inserts
 * observed through driver command monitoring), then through the app: 200 concurrent requests share
 * bulk inserts that carry the configured write concern, and a full queue answers 503, never losing an
 * acknowledged event.
 */
const client = new MongoClient(MONGODB_URL, { monitorCommands: true })
t.teardown(async () => {
  await client.db(testDatabaseName).dropDatabase()
  await client.close()
})

/** A fresh collection with the event indexes and its own sequencer, and the sizes of the insert commands sent to it. */
async function freshStore (name: string): Promise<{ store: EventStore, sequencer: Sequencer, inserts: number[] }> {
  const store = new EventStore(client.db(testDatabaseName).collection<StoredEvent>(name), 5000)
  await store.ensureIndexes()
  const sequencer = new Sequencer(client.db(`${testDatabaseName}_${name}`.slice(0, 63)), store.collection, {
    foldIntervalMs: 50,
    staleAfterMs: 60000
  })
  databases.push(`${testDatabaseName}_${name}`.slice(0, 63))
  const inserts: number[] = []
  client.on('commandStarted', (event: CommandStartedEvent) => {
    if (event.commandName === 'insert' && event.command.insert === name) inserts.push(event.command.documents.length)
  })
  return { store, sequencer, inserts }
}
const databases: string[] = []
t.teardown(async () => {
  for (const name of databases) await client.db(name).dropDatabase()
})

function doc (tenant = 'tenant-q', eventId?: string): StoredEvent {
  const _id = new ObjectId()
  return {
    _id,
    tenant,
    seq: 0,
    idem_key: idempotencyKey({ event_id: eventId }, _id),
    timestamp: new Date(),
    submitted_by: 'writer',
    event_type: 'QueueTest',
    username: 'u',
    entitytype: 'thing',
    ip: '10.0.0.1',
    location: 'here',
    description: 'queued',
    ...(eventId !== undefined ? { event_id: eventId } : {})
  }
}

/** One event through the write path, as POST /events sends it. */
async function submitOne (queue: EventWriter, event: StoredEvent): Promise<WriteOutcome> {
  return (await queue.submit([event]))[0] as WriteOutcome
}

/** A promise with a flag saying whether it has settled yet. */
function tracked<T> (promise: Promise<T>): { promise: Promise<T>, settled: () => boolean } {
  let done = false
  const settledPromise = promise.finally(() => { done = true })
  settledPromise.catch(() => {})
  return { promise: settledPromise, settled: () => done }
}

t.test('full batches are written at once, each at most maxBatch events; the rest follows', async (t) => {
  const { store, sequencer, inserts } = await freshStore('queue_max_batch')
  // a wait far longer than the test: only full batches may be written before drain()
  const queue = new EventWriter(store, sequencer, { maxBatch: 5, maxWaitMs: 60000, limit: 100 })
  const docs = Array.from({ length: 12 }, () => doc())
  const submitted = docs.map((d) => tracked(submitOne(queue, d)))

  const firstTen = await Promise.all(submitted.slice(0, 10).map((s) => s.promise))
  t.same(firstTen.map((o) => o.status), Array(10).fill('created'))
  // the last two are written either by drain() or as soon as an earlier write completes (what accumulated
  // while a write was out goes next): which one depends on timing, so only the batch sizes are asserted

  await queue.drain()
  t.same(submitted.map((s) => s.settled()), Array(12).fill(true))
  t.equal(queue.depth, 0)
  // sorted: concurrent writes reach the server in either order
  t.same([...inserts].sort((a, b) => b - a), [5, 5, 2], 'bulk inserts of at most maxBatch events')
  t.equal(await store.collection.countDocuments({}), 12)
  const outcomes = await Promise.all(submitted.map((s) => s.promise))
  t.same(
    outcomes.map((o) => (o.status === 'error' ? null : o.id)),
    docs.map((d) => d._id.toHexString()),
    "each caller gets its own event's id"
  )
})

t.test('a partial batch is written when the oldest event has waited maxWaitMs', async (t) => {
  const { store, sequencer, inserts } = await freshStore('queue_max_wait')
  const queue = new EventWriter(store, sequencer, { maxBatch: 100, maxWaitMs: 5, limit: 100 })
  // no drain(): only the timer can write these
  const outcomes = await Promise.all([doc(), doc(), doc()].map((d) => submitOne(queue, d)))
  t.same(outcomes.map((o) => o.status), ['created', 'created', 'created'])
  t.same(inserts, [3], 'one bulk insert for the three')
  t.equal(await store.collection.countDocuments({}), 3)
})

t.test('drain() writes what waits and waits for the writes in flight', async (t) => {
  const { store, sequencer, inserts } = await freshStore('queue_drain')
  const queue = new EventWriter(store, sequencer, { maxBatch: 7, maxWaitMs: 60000, limit: 100 })
  // 14 go out at once as two full batches, 6 wait for a timer that would not fire during the test
  const submitted = Array.from({ length: 20 }, () => tracked(submitOne(queue, doc())))
  t.equal(queue.depth, 20)
  await queue.drain()
  t.same(submitted.map((s) => s.settled()), Array(20).fill(true), 'every event is settled when drain() returns')
  t.equal(queue.depth, 0)
  t.equal(inserts.reduce((a, b) => a + b, 0), 20)
  t.ok(inserts.every((n) => n <= 7))
  t.equal(await store.collection.countDocuments({}), 20)
  await queue.drain()
  t.pass('draining an empty queue returns at once')
})

t.test('duplicates in one group commit: the first is created, the repeat answers with its id and seq without being written', async (t) => {
  const { store, sequencer, inserts } = await freshStore('queue_duplicates')
  const queue = new EventWriter(store, sequencer, { maxBatch: 100, maxWaitMs: 60000, limit: 100 })
  const first = doc('tenant-q', 'same')
  const pending = [first, doc('tenant-q', 'same'), doc(), doc('tenant-other', 'same')].map((d) => submitOne(queue, d))
  await queue.drain()
  const outcomes = await Promise.all(pending)
  t.same(inserts, [3], 'one bulk insert, without the repeat')
  t.same(outcomes.map((o) => o.status), ['created', 'duplicate', 'created', 'created'])
  t.same(outcomes[1], { status: 'duplicate', id: first._id.toHexString(), seq: 1, timestamp: first.timestamp, hash: first.hash })
  t.same(outcomes.map((o) => o.status === 'error' ? null : o.seq), [1, 1, 2, 1], 'seqs per tenant, and no seq spent on the repeat')
  t.equal(await store.collection.countDocuments({ event_id: 'same' }), 2, 'once per tenant')
})

t.test('a failed bulk write rejects every waiter of that batch, and frees their places', async (t) => {
  // a real EventStore whose server is gone: every command fails as a whole
  const deadClient = new MongoClient(`mongodb://127.0.0.1:${await freePort()}/`, { serverSelectionTimeoutMS: 300, connectTimeoutMS: 300 })
  t.teardown(() => deadClient.close())
  const store = new EventStore(deadClient.db(testDatabaseName).collection<StoredEvent>('queue_failure'), 1000)
  const queue = new EventWriter(
    store,
    new Sequencer(deadClient.db(testDatabaseName), store.collection, { foldIntervalMs: 50, staleAfterMs: 60000 }),
    { maxBatch: 3, maxWaitMs: 1, limit: 3 }
  )
  const results = await Promise.allSettled([doc(), doc(), doc()].map((d) => submitOne(queue, d)))
  t.same(results.map((r) => r.status), ['rejected', 'rejected', 'rejected'])
  const reasons = results.map((r) => (r as PromiseRejectedResult).reason)
  t.ok(reasons.every((reason) => reason === reasons[0]), 'all with the batch\'s error')
  t.match(translateDatabaseError(reasons[0]), { code: 'DATABASE_UNAVAILABLE', statusCode: 503 }, 'an outage the client gets as a 503')
  t.equal(queue.depth, 0, 'the failed events no longer count against the limit')

  // the driver closed the topology after the failed connection: its next error comes wrapped in a
  // MongoBulkWriteError without write errors, which must fail the write, never acknowledge it
  const again = await queue.submit([doc(), doc()]).then(() => null, (err: unknown) => err)
  t.ok(again instanceof Error, 'a client batch fails as a whole too')
  t.match(translateDatabaseError(again as FastifyError), { code: 'DATABASE_UNAVAILABLE', statusCode: 503 })
  const single = await submitOne(queue, doc()).then(() => null, (err: unknown) => err)
  t.match(
    translateDatabaseError(single as FastifyError),
    { code: 'DATABASE_UNAVAILABLE', statusCode: 503 },
    'and so does a later group commit'
  )
  t.equal(queue.depth, 0)
})

t.test('the queue is bounded: beyond the limit a submission is refused with a 503 error', async (t) => {
  const { store, sequencer } = await freshStore('queue_limit')
  const queue = new EventWriter(store, sequencer, { maxBatch: 100, maxWaitMs: 60000, limit: 3 })
  const accepted = [doc(), doc(), doc()].map((d) => submitOne(queue, d))
  const refused = doc()
  await t.rejects(queue.submit([refused]), { code: 'SERVICE_OVERLOADED', statusCode: 503 })
  await t.rejects(queue.submit([doc()]), { code: 'SERVICE_OVERLOADED', statusCode: 503 }, 'a client batch counts against the same limit')
  await queue.drain()
  t.same((await Promise.all(accepted)).map((o) => o.status), ['created', 'created', 'created'])
  t.equal(await store.collection.countDocuments({ _id: refused._id }), 0, 'a refused event is not stored')

  await t.rejects(
    queue.submit([doc(), doc(), doc(), doc()]),
    { code: 'SERVICE_OVERLOADED' },
    'a batch larger than the limit is refused whole'
  )
  const again = queue.submit([doc(), doc(), doc()])
  await queue.drain()
  t.same((await again).map((o: WriteOutcome) => o.status), ['created', 'created', 'created'], 'capacity is back after the writes')
  t.equal(await store.collection.countDocuments({}), 6, 'nothing of a refused batch is stored')
})

/** The insert commands the app sends to its events collection. */
function watchInserts (app: Awaited<ReturnType<typeof build>>): CommandStartedEvent[] {
  const inserts: CommandStartedEvent[] = []
  app.mongo.client.on('commandStarted', (event: CommandStartedEvent) => {
    if (event.commandName === 'insert' && event.command.insert === 'events') inserts.push(event)
  })
  return inserts
}

t.test('200 concurrent requests share fewer bulk inserts, all with {w: majority, j: true}, and all are readable', async (t) => {
  const app = await build(t, { monitorCommands: true })
  const token = await userWithToken(app, { username: 'group-writer', roles: ['writer', 'reader'], tenant: 'tenant-g' })
  const inserts = watchInserts(app)

  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    app.inject({ method: 'POST', url: '/events', headers: bearer(token), payload: sampleEvent({ event_id: `group-${i}` }) })))
  t.same(answers.map((res) => res.statusCode), Array(200).fill(201))
  t.ok(inserts.length > 0 && inserts.length < 200, `${inserts.length} insert commands for 200 requests`)
  t.equal(inserts.reduce((sum, event) => sum + event.command.documents.length, 0), 200, 'each event sent once')
  for (const event of inserts) {
    t.same(event.command.writeConcern, { w: 'majority', j: true }, 'the default write concern')
    t.equal(event.command.ordered, false, 'unordered: one refused event does not stop the others')
  }

  const ids = answers.map((res) => res.json().id as string)
  t.equal(new Set(ids).size, 200)
  t.equal(
    await app.eventStore.collection.countDocuments({ tenant: 'tenant-g', _id: { $in: ids.map((id) => new ObjectId(id)) } }),
    200,
    'all 200 are stored'
  )
  const read = await Promise.all(ids.slice(0, 20).map((id) => app.inject({ method: 'GET', url: `/events/${id}`, headers: bearer(token) })))
  t.same(read.map((res) => res.statusCode), Array(20).fill(200), 'and readable through the API')
})

t.test('WRITE_CONCERN_W=1 and WRITE_CONCERN_J=false are what the inserts carry', async (t) => {
  const app = await build(t, { monitorCommands: true, config: { WRITE_CONCERN_W: '1', WRITE_CONCERN_J: false } })
  const token = await userWithToken(app, { username: 'wc-writer', roles: ['writer'], tenant: 'tenant-wc' })
  const inserts = watchInserts(app)
  const single = await app.inject({ method: 'POST', url: '/events', headers: bearer(token), payload: sampleEvent() })
  t.equal(single.statusCode, 201)
  const batch = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(token),
    payload: { events: [sampleEvent(), sampleEvent()] }
  })
  t.equal(batch.statusCode, 200)
  t.equal(inserts.length, 2)
  for (const event of inserts) t.same(event.command.writeConcern, { w: 1, j: false })
})

t.test('a full queue answers 503 with Retry-After; every acknowledged event is stored, no refused one is', async (t) => {
  // a long wait keeps the first events queued while the burst arrives
  const app = await build(t, { config: { INGEST_QUEUE_LIMIT: 5, GROUP_COMMIT_MAX_WAIT_MS: 1000 } })
  const token = await userWithToken(app, { username: 'burst-writer', roles: ['writer'], tenant: 'tenant-burst' })
  // one request first, so the burst finds the user in the auth cache and reaches the queue together
  t.equal(
    (await app.inject({ method: 'POST', url: '/events', headers: bearer(token), payload: sampleEvent({ location: 'warm-up' }) }))
      .statusCode,
    201
  )

  const answers = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      app.inject({
        method: 'POST',
        url: '/events',
        headers: bearer(token),
        payload: sampleEvent({ location: 'burst', event_id: `burst-${i}` })
      })
    )
  )
  const accepted = answers.filter((res) => res.statusCode === 201)
  const refused = answers.filter((res) => res.statusCode === 503)
  t.equal(accepted.length + refused.length, 100, 'every answer is 201 or 503')
  t.ok(accepted.length >= 1 && accepted.length <= 99, `${accepted.length} accepted`)
  t.ok(refused.length > 0, `${refused.length} refused`)
  for (const res of refused.slice(0, 3)) {
    t.equal(res.headers['retry-after'], '1')
    t.match(res.json(), { statusCode: 503, code: 'SERVICE_OVERLOADED', error: 'Service Unavailable', message: String, requestId: String })
  }
  const ids = accepted.map((res) => new ObjectId(res.json().id as string))
  t.equal(await app.eventStore.collection.countDocuments({ _id: { $in: ids } }), accepted.length, 'every 201 is stored')
  t.equal(
    await app.eventStore.collection.countDocuments({ tenant: 'tenant-burst', location: 'burst' }),
    accepted.length,
    'and no refused event is'
  )

  const batch = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(token),
    payload: { events: Array.from({ length: 6 }, () => sampleEvent({ location: 'too-big' })) }
  })
  t.equal(batch.statusCode, 503, 'a batch larger than the queue limit is refused')
  t.equal(batch.headers['retry-after'], '1')
  t.equal(await app.eventStore.collection.countDocuments({ location: 'too-big' }), 0)
})
