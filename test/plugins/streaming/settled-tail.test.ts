import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'
import { toEventFilter } from '../../../src/plugins/app/events/filter.js'
import { readStoredAfter } from '../../../src/plugins/app/streaming/seq-reader.js'
import { SettledTail } from '../../../src/plugins/app/streaming/settled-tail.js'

/**
 * The tail of the log in memory (streaming/settled-tail.ts): followers at the tail are answered without
 * a read of the database (on FerretDB, a scan of the whole collection each), with exactly what the
 * database answers, and memory never serves what it should no longer: past its age, its bounds, an erasure.
 */
const config = { SEQUENCE_FOLD_MS: 20, STREAM_POLL_MS: 60_000, STREAM_TAIL_MAX_AGE_MS: 600_000 }

/** Counts the reads of the event log a replica sends to the database. */
function countReads (app: FastifyInstance): { reads: number } {
  const counter = { reads: 0 }
  const findPage = app.eventStore.findPage.bind(app.eventStore)
  app.eventStore.findPage = async (...args) => { counter.reads++; return await findPage(...args) }
  return counter
}

async function settled (app: FastifyInstance, tenant: string, through: number): Promise<number> {
  for (;;) {
    const mark = await app.sequencer.settledThrough(tenant)
    if (mark >= through) return mark
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The tenant's events after `position`, as the database answers the same read. */
async function fromDatabase (
  app: FastifyInstance,
  tenant: string,
  filters: Record<string, unknown>,
  position: number,
  through: number,
  limit = 100
) {
  return await readStoredAfter(app.eventStore, { ...toEventFilter(tenant, filters), afterSeq: position, settledThrough: through }, limit)
}

const FILTERS: Array<Record<string, unknown>> = [
  {},
  { event_type: ['Even'] },
  { 'details.parity': ['1'] },
  { 'details.parity:exists': false },
  { username: ['nobody'] }
]

function events (count: number, from = 0): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) =>
    sampleEvent({
      event_type: (from + i) % 2 === 0 ? 'Even' : 'Odd',
      event_specificdetails: (from + i) % 3 === 0 ? { n: i } : { parity: (from + i) % 2 }
    })
  )
}

t.test('followers at the tail are answered from this replica\'s own writes, as the database answers them', async (t) => {
  const app = await build(t, { config })
  const writer = await userWithToken(app, { username: 'tail-writer', roles: ['writer'], tenant: 'own' })
  const stopFollowing = app.settledWatch.follow('own', () => {})
  t.teardown(stopFollowing)
  const start = await app.sequencer.settledThrough('own')
  await app.settledWatch.tail.advance('own', start)
  t.equal(
    (await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events: events(12) } })).statusCode,
    200
  )
  for (const event of events(3, 12)) {
    t.equal((await app.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: event })).statusCode, 201)
  }
  const through = await settled(app, 'own', start + 15)

  const counter = countReads(app)
  const answers = await Promise.all(FILTERS.map(async (filters) => await app.settledWatch.readAfter('own', filters, start, through, 100)))
  const paged = await app.settledWatch.readAfter('own', { event_type: ['Odd'] }, start, through, 3)
  t.equal(counter.reads, 0, 'five followers with five filters and a sixth with a page: no read of the database')
  t.same(app.settledWatch.reads, { memory: 6, database: 0 })
  for (const [i, filters] of FILTERS.entries()) {
    t.same(
      answers[i],
      await fromDatabase(app, 'own', filters, start, through),
      `the database's answer, to the byte: ${JSON.stringify(filters)}`
    )
  }
  t.same(
    paged,
    await fromDatabase(app, 'own', { event_type: ['Odd'] }, start, through, 3),
    'a page stops at its limit and says how far it reached'
  )
  t.ok(
    (answers[0]?.events.length ?? 0) === 15 && answers[4]?.events.length === 0 && answers[4]?.reached === through,
    'everything, and nothing with the filter passed over to the mark'
  )
})

t.test('another replica\'s events: one read per rise of the mark, however many followers, and behind the tail the database', async (t) => {
  const app = await build(t, { config })
  const replica = await build(t, { config })
  const writer = await userWithToken(app, { username: 'tail-writer', roles: ['writer'], tenant: 'other' })
  t.teardown(replica.settledWatch.follow('other', () => {}))
  t.equal(
    (await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events: events(4) } })).statusCode,
    200
  )
  const start = await settled(app, 'other', 4)
  await replica.settledWatch.tail.advance('other', start)
  t.equal(
    (await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events: events(10, 4) } })).statusCode,
    200
  )
  const through = await settled(replica, 'other', start + 10)

  const counter = countReads(replica)
  const answers = await Promise.all(
    FILTERS.map(async (filters) => await replica.settledWatch.readAfter('other', filters, start, through, 100))
  )
  t.equal(counter.reads, 1, 'five followers: one read of the range the other replica wrote')
  for (const [i, filters] of FILTERS.entries()) {
    t.same(answers[i], await fromDatabase(app, 'other', filters, start, through), JSON.stringify(filters))
  }

  counter.reads = 0
  const behind = await replica.settledWatch.readAfter('other', {}, 0, through, 100)
  t.equal(counter.reads, 1, 'a follower behind the tail reads the database')
  t.same(behind, await fromDatabase(app, 'other', {}, 0, through))
  const numeric = await replica.settledWatch.readAfter('other', { 'details.n.0': ['1'] }, start, through, 100)
  t.equal(counter.reads, 2, 'and so does one whose filter only the database decides')
  t.same(numeric, await fromDatabase(app, 'other', { 'details.n.0': ['1'] }, start, through))
})

t.test('nothing older than the age limit is served from memory, nor beyond the bounds; an erasure empties it at once', async (t) => {
  // the app's own tail ages in real time: long enough that a loaded machine does not age the event out between
  // the steps that look at it (it failed so once, under a 10-minute suite, at 100 ms)
  const app = await build(t, { config: { ...config, STREAM_TAIL_MAX_AGE_MS: 3000, AUDIT_ACCESS: false, ERASURE_INTERVAL_MS: 0 } })
  const writer = await userWithToken(app, { username: 'tail-writer', roles: ['writer'], tenant: 'aged' })
  const admin = await userWithToken(app, { username: 'tail-admin', roles: ['admin', 'reader'], tenant: 'aged' })
  let now = 0
  const tail = new SettledTail(app.eventStore, { maxEvents: 4, maxBytes: 1_000_000, maxAgeMs: 1000 }, () => now)
  t.teardown(app.eventWriter.onSettled((tenant, first, count, docs) => tail.written(tenant, first, count, docs)))
  tail.keep('aged')
  await tail.advance('aged', 0)
  t.equal(
    (await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events: events(6) } })).statusCode,
    200
  )
  const through = await settled(app, 'aged', 6)
  await tail.advance('aged', through)
  const from = (position: number) => ({ ...toEventFilter('aged', {}), afterSeq: position, settledThrough: through })
  t.equal(await tail.read(from(0), 100), undefined, 'beyond four events the oldest went: from 0 only the database has them')
  t.same((await tail.read(from(2), 100))?.events.map((event) => event.seq), [3, 4, 5, 6], 'the last four are in memory')
  now = 999
  t.ok(await tail.read(from(2), 100), 'until the age limit')
  now = 1000
  t.equal(await tail.read(from(2), 100), undefined, 'at it, nothing is served from memory')
  t.equal(tail.heldBytes, 0)

  // the replica's own tail and its erasure worker: erased events are no longer served as they were
  t.teardown(app.settledWatch.follow('aged', () => {}))
  await app.settledWatch.tail.advance('aged', through)
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/events/batch',
        headers: bearer(writer),
        payload: { events: [sampleEvent({ username: 'erase-me' })] }
      })
    ).statusCode,
    200
  )
  const after = await settled(app, 'aged', through + 1)
  const before = await app.settledWatch.readAfter('aged', {}, through, after, 10)
  t.match(before.events[0]?.json, /erase-me/, 'the event is in memory as written')
  t.ok(app.settledWatch.tail.heldBytes > 0)
  const request = await app.inject({
    method: 'POST',
    url: '/tenant/erasures',
    headers: bearer(admin),
    payload: { match: { username: 'erase-me' }, reason: 'tail test' }
  })
  t.equal(request.statusCode, 202, request.body)
  app.erasureWorker.pause = async () => {}
  const started = Date.now()
  while (
    (await app.inject({ method: 'GET', url: `/tenant/erasures/${request.json().id as string}`, headers: bearer(admin) })).json().state !==
    'done'
  ) { await app.erasureWorker.run() }
  t.ok(Date.now() - started >= 3000, 'done no sooner than the tails\' age limit after its rewrite')
  t.equal(app.settledWatch.tail.heldBytes, 0, 'the rewrite emptied this replica\'s tail (nothing read it since to expire it)')
  const reads = app.settledWatch.reads.database
  const erased = await app.settledWatch.readAfter('aged', {}, through, after, 10)
  t.equal(app.settledWatch.reads.database, reads + 1, 'the database answers')
  t.notMatch(erased.events[0]?.json, /erase-me/)
  t.match(JSON.parse(erased.events[0]?.json ?? '{}'), { username: null, erased: ['username'] })
})
