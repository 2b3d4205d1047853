import t from 'tap'
import { MongoClient, ObjectId } from 'mongodb'
import { EVENT_INDEXES, EventStore } from '../../../src/plugins/app/events/event-store.js'
import { idempotencyKey, type StoredEvent } from '../../../src/plugins/app/events/record.js'
import { freePort } from '../../../src/embedded/ferretdb.js'
import { MONGODB_URL, testDatabaseName } from '../../helper.js'

/**
 * The write side of the EventStore on the real database: its indexes, the per-document outcome of one
 * unordered bulk insert, and idempotency keys per tenant.
 */
const client = new MongoClient(MONGODB_URL)
t.teardown(async () => {
  await client.db(testDatabaseName).dropDatabase()
  await client.close()
})

let collections = 0
async function freshStore (): Promise<EventStore> {
  const store = new EventStore(client.db(testDatabaseName).collection<StoredEvent>(`events_${++collections}`), 5000)
  await store.ensureIndexes()
  return store
}

let seqs = 0
function doc (overrides: Partial<StoredEvent> & { eventId?: string } = {}): StoredEvent {
  const { eventId, ...rest } = overrides
  const _id = rest._id ?? new ObjectId()
  return {
    _id,
    tenant: 'tenant-s',
    seq: ++seqs,
    idem_key: idempotencyKey({ event_id: eventId }, _id),
    timestamp: new Date(),
    submitted_by: 'writer',
    event_type: 'StoreTest',
    username: 'u',
    entitytype: 'thing',
    ip: '10.0.0.1',
    location: 'here',
    description: 'stored',
    ...(eventId !== undefined ? { event_id: eventId } : {}),
    ...rest
  }
}

t.test('ensureIndexes creates the unique (tenant, idem_key) index and can run again', async (t) => {
  const store = await freshStore()
  await store.ensureIndexes()
  await store.ensureIndexes()
  const indexes = await store.collection.listIndexes().toArray()
  const names = indexes.map((index) => index.name)
  for (const index of EVENT_INDEXES) t.ok(names.includes(index.name), `${String(index.name)} exists`)
  const idem = indexes.find((index) => index.name === 'tenant_idem_key')
  t.same(idem?.key, { tenant: 1, idem_key: 1 })
  t.equal(idem?.unique, true)
})

t.test('idempotency keys: the event_id when given, the event\'s own id otherwise, never equal to each other', async (t) => {
  const id = new ObjectId()
  t.equal(idempotencyKey({ event_id: 'abc' }, id), 'e:abc')
  t.equal(idempotencyKey({}, id), `i:${id.toHexString()}`)
  // a client cannot pick an event_id that collides with another event's automatic key
  t.not(idempotencyKey({ event_id: `i:${id.toHexString()}` }, new ObjectId()), idempotencyKey({}, id))

  const store = await freshStore()
  const auto = doc()
  const lookalike = doc({ eventId: auto.idem_key })
  t.same(await store.insertMany([auto, lookalike]), [{ ok: true }, { ok: true }])
})

t.test('insertMany: every new document is stored', async (t) => {
  const store = await freshStore()
  const docs = [doc(), doc({ eventId: 'a' }), doc({ eventId: 'b' })]
  t.same(await store.insertMany(docs), [{ ok: true }, { ok: true }, { ok: true }])
  t.equal(await store.collection.countDocuments({}), 3)
  const stored = await store.collection.findOne({ _id: docs[1]?._id })
  t.equal(stored?.idem_key, 'e:a')
  t.ok(stored?.timestamp instanceof Date)
})

t.test('insertMany: a duplicate is reported at its index and the others are still stored (unordered)', async (t) => {
  const store = await freshStore()
  t.same(await store.insertMany([doc({ eventId: 'stored-before' })]), [{ ok: true }])
  const outcomes = await store.insertMany([
    doc({ eventId: 'x' }),
    doc({ eventId: 'stored-before' }),
    doc({ eventId: 'x' }),
    doc({ eventId: 'y' }),
    doc()
  ])
  t.same(outcomes, [{ ok: true }, { ok: false, duplicate: true }, { ok: false, duplicate: true }, { ok: true }, { ok: true }])
  t.equal(await store.collection.countDocuments({}), 4)
  t.equal(await store.collection.countDocuments({ event_id: 'x' }), 1)
})

t.test('insertMany: the same idempotency key in two tenants is two events', async (t) => {
  const store = await freshStore()
  const outcomes = await store.insertMany([doc({ eventId: 'shared', tenant: 'a' }), doc({ eventId: 'shared', tenant: 'b' })])
  t.same(outcomes, [{ ok: true }, { ok: true }])
  t.equal(await store.collection.countDocuments({ event_id: 'shared' }), 2)
})

t.test('insertMany: a document the database refuses fails alone, without a database message', async (t) => {
  const store = await freshStore()
  // the route's schema refuses such keys; the store must still not let one refusal fail its neighbours
  const refused = doc({ event_specificdetails: { $set: 1 } })
  const outcomes = await store.insertMany([doc(), refused, doc()])
  t.same(outcomes, [{ ok: true }, { ok: false, duplicate: false, error: 'the database refused this event' }, { ok: true }])
  t.equal(await store.collection.countDocuments({}), 2)
  t.equal(await store.collection.countDocuments({ _id: refused._id }), 0)
})

t.test('findByIdempotencyKeys: the first stored event per key, in one tenant only', async (t) => {
  const store = await freshStore()
  const first = doc({ eventId: 'k1', timestamp: new Date('2024-01-01T00:00:00Z') })
  const other = doc({ eventId: 'k2' })
  await store.insertMany([first, other, doc({ eventId: 'k1', tenant: 'elsewhere' })])
  const found = await store.findByIdempotencyKeys('tenant-s', ['e:k1', 'e:k2', 'e:missing'])
  t.same([...found.keys()].sort(), ['e:k1', 'e:k2'])
  t.match(found.get('e:k1'), {
    id: first._id.toHexString(),
    seq: first.seq,
    timestamp: new Date('2024-01-01T00:00:00Z'),
    fingerprint: String
  })
  t.equal(found.get('e:k2')?.id, other._id.toHexString())
  t.equal((await store.findByIdempotencyKeys('nobody', ['e:k1'])).size, 0, 'another tenant\'s keys are not found')
})

t.test('insertMany throws, rather than answering per document, when the database cannot be reached', async (t) => {
  const dead = new MongoClient(`mongodb://127.0.0.1:${await freePort()}/`, { serverSelectionTimeoutMS: 300, connectTimeoutMS: 300 })
  t.teardown(() => dead.close())
  const store = new EventStore(dead.db(testDatabaseName).collection<StoredEvent>('unreachable'), 1000)
  for (let attempt = 1; attempt <= 3; attempt++) {
    // the driver's later errors arrive wrapped as MongoBulkWriteError with no write errors: still a throw
    await t.rejects(
      store.insertMany([doc(), doc()]),
      { name: /^Mongo(ServerSelection|TopologyClosed|Network)Error$/ },
      `attempt ${attempt}`
    )
  }
})
