import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, bearer, sampleEvent, userWithToken } from '../helper.js'
import { SseClient } from '../fixtures/sse-client.js'
import { riseWhileSettledIsRead } from '../fixtures/settled-race.js'

/**
 * GET /events/stream over real sockets (a stream never ends, so app.inject cannot read it): replay, then
 * follow, across two replicas on one database; resume by Last-Event-ID; a slow client cut off with a
 * resume hint; filters; the stream limits.
 */
interface Replica { app: FastifyInstance, url: string }

async function replica (t: Test, config: Record<string, string | number> = {}): Promise<Replica> {
  const app = await build(t, { config: { STREAM_POLL_MS: 20, SEQUENCE_FOLD_MS: 50, ...config } })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url: address }
}

async function post (target: Replica, token: string, events: Array<Record<string, unknown>>): Promise<number[]> {
  const response = await target.app.inject({ method: 'POST', url: '/events/batch', headers: bearer(token), payload: { events } })
  if (response.statusCode !== 200) throw new Error(`batch answered ${response.statusCode}: ${response.body}`)
  return (response.json() as { items: Array<{ seq: number }> }).items.map((item) => item.seq)
}

/** Each test has its own tenant (the file shares one database), so seqs start at 1 in every test. */
let tenants = 0
async function usersOf (target: Replica): Promise<{ writer: string, reader: string, tenant: string }> {
  const tenant = `stream-${++tenants}`
  const writer = await userWithToken(target.app, { username: `writer-${tenant}`, roles: ['writer'], tenant })
  const reader = await userWithToken(target.app, { username: `reader-${tenant}`, roles: ['reader'], tenant })
  return { writer, reader, tenant }
}

const numbered = (from: number, count: number, overrides: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, i) => sampleEvent({ description: `event ${from + i}`, ...overrides }))

t.test('a stream follows events written on another replica after it connected, in seq order', async (t) => {
  const a = await replica(t)
  const b = await replica(t)
  const { writer, reader } = await usersOf(a)
  await post(a, writer, numbered(1, 3))
  const client = new SseClient(`${a.url}/events/stream`, bearer(reader))
  t.teardown(() => client.close())
  await client.until(() => client.status !== 0, 'the answer starts')
  t.equal(client.status, 200)
  t.match(client.headers['content-type'], /^text\/event-stream/, 'SSE content type')
  t.equal(client.headers['cache-control'], 'no-store', 'audit data is not cached')

  const seqs = await post(b, writer, numbered(4, 5))
  await client.until(() => client.events().length >= 5, 'five events')
  t.same(client.events().map((e) => e.seq), seqs, 'only the events written after connecting, from the other replica, in order')
  t.same(client.messages.map((m) => m.id), seqs.map(String), 'each message id is the seq')
  const first = client.events<{ description: string, tenant: string, id: string }>()[0]
  t.equal(first?.description, 'event 4', 'the public event JSON as data')
  const stored = await a.app.inject({ method: 'GET', url: `/events/${first?.id ?? ''}`, headers: bearer(reader) })
  t.same(first, stored.json(), 'delivered exactly as GET /events/{id} returns it')
})

t.test('afterSeq replays what is stored, and a reconnect with Last-Event-ID gets exactly the missed ones', async (t) => {
  const a = await replica(t)
  const { writer, reader } = await usersOf(a)
  await post(a, writer, numbered(1, 4))
  const first = new SseClient(`${a.url}/events/stream?afterSeq=1`, bearer(reader))
  await first.until(() => first.events().length >= 3, 'the replay')
  t.same(first.events().map((e) => e.seq), [2, 3, 4], 'the replay starts after afterSeq')
  await first.close()

  await post(a, writer, numbered(5, 6))
  // a reconnecting EventSource sends the same URL (afterSeq=1) and Last-Event-ID, which wins
  const second = new SseClient(`${a.url}/events/stream?afterSeq=1`, { ...bearer(reader), 'last-event-id': '4' })
  t.teardown(() => second.close())
  await second.until(() => second.events().length >= 6, 'the missed events')
  await post(a, writer, numbered(11, 1))
  await second.until(() => second.events().length >= 7, 'the next live event')
  t.same(second.events().map((e) => e.seq), [5, 6, 7, 8, 9, 10, 11], 'nothing skipped, nothing twice')
})

t.test('filters apply to the replay and to the live part', async (t) => {
  const a = await replica(t)
  const { writer, reader } = await usersOf(a)
  await post(a, writer, [
    sampleEvent({ event_type: 'A' }),
    sampleEvent({ event_type: 'B', event_specificdetails: { k: 'x' } }),
    sampleEvent({ event_type: 'B' })
  ])
  const client = new SseClient(`${a.url}/events/stream?afterSeq=0&event_type=B&details%5Bk%5D=x`, bearer(reader))
  t.teardown(() => client.close())
  await client.until(() => client.events().length >= 1, 'the matching stored event')
  await post(a, writer, [
    sampleEvent({ event_type: 'A', event_specificdetails: { k: 'x' } }),
    sampleEvent({ event_type: 'B', event_specificdetails: { k: 'x' } })
  ])
  await client.until(() => client.events().length >= 2, 'the matching live event')
  t.same(
    client.events<{ seq: number; event_type: string }>().map((e) => [e.seq, e.event_type]),
    [
      [2, 'B'],
      [5, 'B']
    ],
    'only event_type=B with details.k=x'
  )
})

t.test('an event settled while the stream reads its starting mark is sent at once, not after the next event', async (t) => {
  const a = await replica(t)
  const { writer, reader, tenant } = await usersOf(a)
  const rose = riseWhileSettledIsRead(a.app, tenant, async () => await post(a, writer, numbered(1, 1)))
  // the samples' type only: the stream's own audited opening is another event
  const client = new SseClient(`${a.url}/events/stream?event_type=${String(sampleEvent().event_type)}`, bearer(reader))
  t.teardown(() => client.close())
  const seqs = await rose
  await client.until(() => client.events().length >= 1, 'the event')
  t.same(client.events().map((e) => e.seq), seqs)
})

t.test('a slow client is cut off with a resume hint while the buffer stays bounded, and loses nothing', async (t) => {
  const bufferBytes = 262144
  // each page read scans the collection on FerretDB: a loaded machine must not turn it into read_failed
  const a = await replica(t, { STREAM_BUFFER_BYTES: bufferBytes, STREAM_STALL_MS: 200, QUERY_MAX_TIME_MS: 120000 })
  const { writer, reader } = await usersOf(a)
  // far more than the socket buffers of both ends hold, so bytes pile up in the service; three bytes a
  // character in UTF-8, so that a bound kept in characters rather than bytes would show
  const big = { blob: '界'.repeat(10000) }
  const total = 600
  for (let i = 0; i < total; i += 100) await post(a, writer, numbered(i + 1, 100, { event_specificdetails: big }))

  const slow = new SseClient(`${a.url}/events/stream?afterSeq=0`, bearer(reader))
  await slow.until(() => slow.status !== 0, 'the answer starts')
  slow.pause()
  // the service ends the stream on its own: its slot is given back
  while (a.app.eventStreams.slots.active > 0) await new Promise((resolve) => setTimeout(resolve, 20))
  slow.resume()
  await slow.finished()
  const end = slow.messages.find((m) => m.event === 'end')
  t.ok(end, 'the stream ended with an end message')
  const hint = JSON.parse(end?.data ?? '{}') as { resume_after_seq: number, reason: string }
  t.equal(hint.reason, 'buffer_full', 'cut off for its buffer, not for a failed read')
  const received = slow.events().map((e) => e.seq)
  t.ok(received.length < total, `cut off before the end (${received.length} of ${total})`)
  t.equal(hint.resume_after_seq, received.at(-1), 'the hint names the last seq sent')
  const oneEvent = Buffer.byteLength(slow.messages[0]?.data ?? '') + 64
  t.ok(
    a.app.eventStreams.peakBufferedBytes <= bufferBytes + oneEvent,
    `buffered at most the limit plus one event (${a.app.eventStreams.peakBufferedBytes} bytes)`
  )

  const again = new SseClient(`${a.url}/events/stream`, { ...bearer(reader), 'last-event-id': String(hint.resume_after_seq) })
  t.teardown(() => again.close())
  await again.until(() => again.events().length >= total - received.length, 'the rest')
  t.same(
    [...received, ...again.events().map((e) => e.seq)],
    Array.from({ length: total }, (_, i) => i + 1),
    'every seq once, in order, across the two connections'
  )
})

t.test('idle streams get heartbeats; the service ends open streams with a resume hint when it stops', async (t) => {
  const a = await replica(t, { STREAM_HEARTBEAT_MS: 100 })
  const { reader } = await usersOf(a)
  const client = new SseClient(`${a.url}/events/stream`, bearer(reader))
  await client.until(() => client.comments.includes('heartbeat'), 'a heartbeat')
  t.pass('a heartbeat comment arrived on an idle stream')
  await a.app.close()
  await client.finished()
  t.match(JSON.parse(client.messages.find((m) => m.event === 'end')?.data ?? '{}'), { resume_after_seq: 0, reason: 'shutting_down' })
})

t.test('streams are limited per tenant and per instance, with a 503 beyond', async (t) => {
  const a = await replica(t, { STREAM_MAX_PER_TENANT: 1, STREAM_MAX_PER_INSTANCE: 2 })
  const { reader: readerA } = await usersOf(a)
  const { reader: readerB } = await usersOf(a)
  const { reader: readerC } = await usersOf(a)
  const open = new SseClient(`${a.url}/events/stream`, bearer(readerA))
  t.teardown(() => open.close())
  await open.until(() => open.status !== 0, 'the first stream')
  t.equal(open.status, 200)
  const second = await a.app.inject({ method: 'GET', url: '/events/stream', headers: bearer(readerA) })
  t.equal(second.statusCode, 503, 'a second stream of the tenant is refused')
  t.equal(second.json().code, 'STREAM_CAPACITY')
  t.ok(second.headers['retry-after'], 'with Retry-After')
  const other = new SseClient(`${a.url}/events/stream`, bearer(readerB))
  t.teardown(() => other.close())
  await other.until(() => other.status !== 0, 'another tenant\'s stream')
  t.equal(other.status, 200, 'another tenant still gets one')
  const third = await a.app.inject({ method: 'GET', url: '/events/stream', headers: bearer(readerC) })
  t.equal(third.statusCode, 503, 'the instance limit holds across tenants')
  await open.close()
  while (a.app.eventStreams.slots.active > 1) await new Promise((resolve) => setTimeout(resolve, 20))
  const again = new SseClient(`${a.url}/events/stream`, bearer(readerA))
  t.teardown(() => again.close())
  await again.until(() => again.status !== 0, 'a stream after one closed')
  t.equal(again.status, 200, 'a closed stream gives its slot back')
})

t.test('bad input is a 400, a writer is refused', async (t) => {
  const a = await replica(t)
  const { writer, reader } = await usersOf(a)
  const badId = await a.app.inject({ method: 'GET', url: '/events/stream', headers: { ...bearer(reader), 'last-event-id': 'abc' } })
  t.equal(badId.statusCode, 400)
  t.match(badId.json().message, /last-event-id/)
  const unknown = await a.app.inject({ method: 'GET', url: '/events/stream?limit=5', headers: bearer(reader) })
  t.equal(unknown.statusCode, 400, 'GET /events paging parameters are not stream parameters')
  t.equal((await a.app.inject({ method: 'GET', url: '/events/stream', headers: bearer(writer) })).statusCode, 403)
  t.equal((await a.app.inject({ method: 'GET', url: '/events/stream' })).statusCode, 401)
  const head = await a.app.inject({ method: 'HEAD', url: '/events/stream', headers: bearer(reader) })
  t.equal(head.statusCode, 200, 'HEAD answers what a GET would, and ends')
  t.match(head.headers['content-type'], /^text\/event-stream/)
  t.equal(a.app.eventStreams.slots.active, 0, 'HEAD holds no stream slot')
})

/**
 * Issue #28, Medium 3: tenant A's 5 replaying streams read the database beside its exports and
 * completeness checks, counted nowhere, and tenant B's queries timed out. A replay's reads from the database
 * take the tenant's units of the scan admission, page by page, as its queries do.
 */
t.test("a replay's reads from the database wait for the tenant's turn at the scan admission", async (t) => {
  const a = await replica(t, { STREAM_TAIL_EVENTS: 0, QUERY_MAX_CONCURRENT: 4, QUERY_MAX_CONCURRENT_PER_TENANT: 1 })
  const { writer, reader, tenant } = await usersOf(a)
  const seqs = await post(a, writer, numbered(1, 5))
  // the tenant's one unit, taken by a query of its own still running
  const held = a.app.scanAdmission.admit(tenant)
  const client = new SseClient(`${a.url}/events/stream?afterSeq=0`, bearer(reader))
  t.teardown(() => client.close())
  while (a.app.scanAdmission.waiting === 0 && client.events().length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(client.events().length, 0, "nothing is read from the database while the tenant's share is taken")
  t.equal(a.app.scanAdmission.waiting, 1, 'the replay waits for its turn')
  held()
  await client.until(() => client.events().length >= 5, 'the replay')
  t.same(client.events().map((e) => e.seq), seqs, 'then replays everything')
  t.equal(a.app.scanAdmission.active, 0, 'giving the unit back after each page')
})
