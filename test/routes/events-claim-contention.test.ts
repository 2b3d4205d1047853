import t from 'tap'
import { MongoClient } from 'mongodb'
import { bearer, build, MONGODB_URL, sampleEvent, testDatabaseName, userWithToken } from '../helper.js'

/**
 * A write whose seq claim lost every race to another replica stored nothing: it is answered 503
 * EVENT_NOT_WRITTEN with Retry-After (the client retries), never 500, and the next write claims again.
 * The other replica is a second client inserting a claim at the very position this replica's cache points at.
 */
t.test('a write whose every claim attempt lost its race is answered 503 EVENT_NOT_WRITTEN with Retry-After', async (t) => {
  const app = await build(t)
  const writer = await userWithToken(app, { username: 'claim-writer', roles: ['writer'], tenant: 'tenant-claims' })
  const other = new MongoClient(MONGODB_URL)
  t.teardown(() => other.close())
  const post = async (eventId: string) =>
    await app.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: sampleEvent({ event_id: eventId }) })

  const first = await post('claim-1')
  t.equal(first.statusCode, 201, 'the first event is written')
  const firstSeq = (first.json() as { seq: number }).seq
  // one lost race is all this write may afford; the other replica takes the next position first
  app.sequencer.options.maxClaimAttempts = 1
  await other.db(testDatabaseName).collection('sequence_claims').insertOne({
    _id: `tenant-claims:${firstSeq + 1}` as never,
    tenant: 'tenant-claims',
    first: firstSeq + 1,
    count: 1,
    claimed_at: new Date(),
    settles: []
  })

  const refused = await post('claim-2')
  t.equal(refused.statusCode, 503, 'not 500')
  t.match(refused.json(), { statusCode: 503, code: 'EVENT_NOT_WRITTEN' })
  t.equal(refused.headers['retry-after'], '1', 'with Retry-After')
  t.equal(await app.eventStore.collection.countDocuments({ tenant: 'tenant-claims', event_id: 'claim-2' }), 0, 'nothing was stored')

  const retried = await post('claim-2')
  t.equal(retried.statusCode, 201, 'the retry claims after the other replica and is written')
  t.ok((retried.json() as { seq: number }).seq > firstSeq + 1, 'after the position the other replica took')
})

t.test('in a batch, events whose rewrite lost every claim race fail alone; the stored ones are answered as stored', async (t) => {
  const app = await build(t)
  const writer = await userWithToken(app, { username: 'batch-writer', roles: ['writer'], tenant: 'tenant-rewrite' })
  const other = new MongoClient(MONGODB_URL)
  t.teardown(() => other.close())
  const db = other.db(testDatabaseName)
  const post = async (url: string, payload: unknown) =>
    await app.inject({ method: 'POST', url, headers: bearer(writer), payload: payload as Record<string, unknown> })

  // the sequencer claims from its cache a random 1..8 times in a row (CACHED_RUN_MAX), then looks whether to read
  // the newest claim (fairness between replicas): the longest run here, so that the batch and its rewrite both claim
  // from the cache, as the scenario needs (with a run of 1 the rewrite could read past the taken position, and the
  // event was stored, one run in eight)
  const random = Math.random
  Math.random = () => 0.999
  t.teardown(() => { Math.random = random })
  const first = await post('/events', sampleEvent({ event_id: 'rewrite-0' }))
  const next = (first.json() as { seq: number }).seq + 1
  app.sequencer.options.maxClaimAttempts = 1
  // the batch gets seqs next and next + 1: something else already holds next + 1, so its second event is written
  // again, and another replica has taken the position that rewrite claims
  await db.collection('events').insertOne({ tenant: 'tenant-rewrite', seq: next + 1 })
  await db.collection('sequence_claims').insertOne({
    _id: `tenant-rewrite:${next + 2}` as never,
    tenant: 'tenant-rewrite',
    first: next + 2,
    count: 1,
    claimed_at: new Date(),
    settles: []
  })

  const res = await post('/events/batch', { events: [sampleEvent({ event_id: 'rewrite-1' }), sampleEvent({ event_id: 'rewrite-2' })] })
  t.equal(res.statusCode, 200, 'the batch is answered item by item')
  const items = (res.json() as { items: Array<{ status: string, seq?: number }> }).items
  t.match(items[0], { status: 'created', seq: next }, 'the stored event is answered as stored')
  t.match(items[1], { status: 'error' }, 'the one that could not be written is an error to retry')
  t.equal(await app.eventStore.collection.countDocuments({ tenant: 'tenant-rewrite', event_id: 'rewrite-1' }), 1)
  t.equal(await app.eventStore.collection.countDocuments({ tenant: 'tenant-rewrite', event_id: 'rewrite-2' }), 0)
})

t.test('in a bulk shared by two tenants, the one whose claim lost every race gets 503; the other is written', async (t) => {
  const app = await build(t, { config: { GROUP_COMMIT_MAX_WAIT_MS: 50 } })
  const loser = await userWithToken(app, { username: 'loser-writer', roles: ['writer'], tenant: 'tenant-loser' })
  const winner = await userWithToken(app, { username: 'winner-writer', roles: ['writer'], tenant: 'tenant-winner' })
  const other = new MongoClient(MONGODB_URL)
  t.teardown(() => other.close())
  const post = async (token: string, eventId: string) =>
    await app.inject({ method: 'POST', url: '/events', headers: bearer(token), payload: sampleEvent({ event_id: eventId }) })

  const first = await post(loser, 'loser-1')
  const next = (first.json() as { seq: number }).seq + 1
  app.sequencer.options.maxClaimAttempts = 1
  await other.db(testDatabaseName).collection('sequence_claims').insertOne({
    _id: `tenant-loser:${next}` as never,
    tenant: 'tenant-loser',
    first: next,
    count: 1,
    claimed_at: new Date(),
    settles: []
  })
  // sent together: one group commit holds both tenants' events
  const [lost, won] = await Promise.all([post(loser, 'loser-2'), post(winner, 'winner-1')])
  t.equal(lost.statusCode, 503, 'the tenant whose claim lost: 503')
  t.match(lost.json(), { code: 'EVENT_NOT_WRITTEN' })
  t.equal(lost.headers['retry-after'], '1')
  t.equal(won.statusCode, 201, 'the other tenant\'s event is written')
})
