import t, { type Test } from 'tap'
import { ObjectId } from 'mongodb'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'
import type { StoredEvent } from '../../src/plugins/app/events/record.js'

/**
 * POST /events, POST /event (deprecated alias) and POST /events/batch on the real database: what is
 * accepted, what is refused and why, what is stored, and idempotency by event_id.
 */
const app = await build(t)
const writerA = await userWithToken(app, { username: 'writer-a', roles: ['writer'], tenant: 'tenant-a' })
const writerB = await userWithToken(app, { username: 'writer-b', roles: ['writer'], tenant: 'tenant-b' })
const readerA = await userWithToken(app, { username: 'reader-a', roles: ['reader'], tenant: 'tenant-a' })

const events = () => app.eventStore.collection

function post (url: string, payload: unknown, token = writerA, target: FastifyInstance = app) {
  return target.inject({ method: 'POST', url, headers: bearer(token), payload: payload as InjectOptions['payload'] })
}

/** A unique marker (in `location`) so each test counts only its own events. */
let markers = 0
function marker (): string {
  return `m-${process.pid}-${++markers}`
}

async function storedWith (location: string): Promise<number> {
  return await events().countDocuments({ location })
}

async function storedById (id: string): Promise<StoredEvent | null> {
  return await events().findOne({ _id: new ObjectId(id) })
}

/** Details nested `levels` objects deep, the outermost being level 1. */
function nested (levels: number, leaf: Record<string, unknown> = { leaf: true }): Record<string, unknown> {
  let value = leaf
  for (let level = 1; level < levels; level++) value = { [`l${level}`]: value }
  return value
}

function assertBadRequest (t: Test, res: Awaited<ReturnType<typeof post>>, mentions: string | RegExp, what: string): void {
  t.equal(res.statusCode, 400, `${what}: 400`)
  const body = res.json()
  t.equal(body.code, 'VALIDATION_FAILED', `${what}: validation error code`)
  t.equal(body.error, 'Bad Request', `${what}: reason phrase`)
  if (typeof mentions === 'string') t.ok(body.message.includes(mentions), `${what}: message "${body.message}" names ${mentions}`)
  else t.match(body.message, mentions, `${what}: message names the field`)
}

t.test('the brief\'s sample is accepted as is and stored with the server\'s fields', async (t) => {
  const before = Date.now()
  const res = await post('/events', sampleEvent())
  const after = Date.now()
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['hash', 'id', 'receipt', 'seq', 'status', 'timestamp'])
  t.equal(body.status, 'created')
  t.equal(body.seq, 1, 'the first event of the tenant is seq 1')
  t.match(body.id, /^[0-9a-f]{24}$/)
  const receivedAt = Date.parse(body.timestamp)
  t.ok(receivedAt >= before - 1 && receivedAt <= after + 1, 'timestamp is the receipt time')

  const stored = await storedById(body.id)
  t.ok(stored, 'the event is in the database')
  t.equal(stored?.tenant, 'tenant-a', 'tenant from the token')
  t.equal(stored?.submitted_by, 'writer-a', 'submitted_by from the token')
  t.equal(stored?.timestamp.toISOString(), body.timestamp, 'stored timestamp is the one answered')
  t.equal(stored?.seq, body.seq, 'stored seq is the one answered')
  t.equal(stored?.hash, body.hash, 'stored hash is the receipt\'s')
  const { event_specificdetails: details, ...fields } = sampleEvent()
  t.match(stored, fields)
  t.same(stored?.event_specificdetails, details)
  t.notOk(stored && 'id' in stored, 'no client-side id field is stored')

  const read = await app.inject({ method: 'GET', url: `/events/${body.id as string}`, headers: bearer(readerA) })
  t.equal(read.statusCode, 200, 'readable through the API')
  t.equal(read.json().submitted_by, 'writer-a')
})

t.test('optional fields: event_id, occurred_at, an IPv6 address, no details', async (t) => {
  const { event_specificdetails: _omitted, ...withoutDetails } = sampleEvent()
  const res = await post('/events', {
    ...withoutDetails,
    ip: '2001:db8::8a2e:370:7334',
    event_id: 'opt-1',
    occurred_at: '2024-05-01T12:00:00+02:00'
  })
  t.equal(res.statusCode, 201)
  const stored = await storedById(res.json().id)
  t.equal(stored?.ip, '2001:db8::8a2e:370:7334')
  t.equal(stored?.event_id, 'opt-1')
  t.ok(stored?.occurred_at instanceof Date, 'occurred_at is stored as a date')
  t.equal(stored?.occurred_at?.toISOString(), '2024-05-01T10:00:00.000Z')
  t.notOk(stored && 'event_specificdetails' in stored, 'no details invented')
})

const LIMITS = { event_type: 128, username: 256, entitytype: 128, location: 256, description: 4096 } as const
const REQUIRED = ['event_type', 'username', 'entitytype', 'ip', 'location', 'description'] as const

t.test('each required field missing, empty, of the wrong type or too long → 400 naming it, nothing stored', async (t) => {
  const location = marker()
  for (const field of REQUIRED) {
    const missing = sampleEvent({ location })
    delete missing[field]
    if (field === 'location') missing.username = location
    assertBadRequest(t, await post('/events', missing), `'${field}'`, `${field} missing`)
    assertBadRequest(t, await post('/events', sampleEvent({ location, [field]: '' })), `body/${field}`, `${field} empty`)
    // bodies are not coerced: a number is not a string
    assertBadRequest(t, await post('/events', sampleEvent({ location, [field]: 123 })), `body/${field}`, `${field} a number`)
    assertBadRequest(t, await post('/events', sampleEvent({ location, [field]: null })), `body/${field}`, `${field} null`)
    assertBadRequest(t, await post('/events', sampleEvent({ location, [field]: ['a'] })), `body/${field}`, `${field} an array`)
    const tooLong = 'x'.repeat(field === 'ip' ? 65 : LIMITS[field] + 1)
    assertBadRequest(t, await post('/events', sampleEvent({ location, [field]: tooLong })), `body/${field}`, `${field} too long`)
  }
  t.equal(await storedWith(location), 0)
  t.equal(await events().countDocuments({ username: location }), 0)
})

t.test('each bounded field accepts exactly its maximum length', async (t) => {
  const fields = Object.fromEntries(Object.entries(LIMITS).map(([field, max]) => [field, 'y'.repeat(max)]))
  const res = await post('/events', sampleEvent(fields))
  t.equal(res.statusCode, 201)
  const stored = await storedById(res.json().id)
  t.equal(stored?.description?.length, 4096)
})

t.test('ip must be an IPv4 or IPv6 address', async (t) => {
  for (const ip of ['999.1.1.1', 'not-an-ip', '192.168.0.1/24', '192.168.0', 'localhost', '2001:db8::g']) {
    // one message, not one per anyOf branch plus one for the anyOf
    assertBadRequest(t, await post('/events', sampleEvent({ ip })), /^body\/ip must be an IPv4 or IPv6 address$/, `ip ${ip}`)
  }
  t.equal(await events().countDocuments({ ip: { $in: ['999.1.1.1', 'not-an-ip'] } }), 0)
})

t.test('event_id and occurred_at are checked too', async (t) => {
  assertBadRequest(t, await post('/events', sampleEvent({ event_id: '' })), 'body/event_id', 'empty event_id')
  assertBadRequest(t, await post('/events', sampleEvent({ event_id: 'e'.repeat(129) })), 'body/event_id', 'event_id of 129 characters')
  assertBadRequest(t, await post('/events', sampleEvent({ event_id: 42 })), 'body/event_id', 'numeric event_id')
  assertBadRequest(t, await post('/events', sampleEvent({ occurred_at: 'yesterday' })), 'body/occurred_at', 'occurred_at not a date')
  assertBadRequest(t, await post('/events', sampleEvent({ occurred_at: 1714564800000 })), 'body/occurred_at', 'occurred_at as epoch number')
  t.equal((await post('/events', sampleEvent({ event_id: 'e'.repeat(128) }))).statusCode, 201, 'event_id of 128 characters')
})

t.test('an unknown top-level field → 400 naming it (no silent stripping), nothing stored', async (t) => {
  const location = marker()
  const res = await post('/events', sampleEvent({ location, evnt_type: 'Typo' }))
  assertBadRequest(t, res, '\'evnt_type\'', 'typo field')
  t.equal(await storedWith(location), 0)
})

t.test('server fields in the body are refused, never taken', async (t) => {
  const location = marker()
  const serverFields = {
    id: new ObjectId().toHexString(),
    _id: new ObjectId().toHexString(),
    timestamp: '2000-01-01T00:00:00Z',
    tenant: 'tenant-b',
    submitted_by: 'someone-else',
    idem_key: 'e:x'
  }
  for (const [field, value] of Object.entries(serverFields)) {
    assertBadRequest(t, await post('/events', sampleEvent({ location, [field]: value })), `'${field}'`, `body with ${field}`)
  }
  t.equal(await storedWith(location), 0)
})

t.test('event_specificdetails: keys that would be operators, paths or truncated are refused at any depth', async (t) => {
  const location = marker()
  const unsafe: Array<[string, Record<string, unknown>]> = [
    ['leading $ at the top', { $where: 'sleep(1000)' }],
    ['dot at the top', { 'a.b': 1 }],
    ['leading $ nested', { account: { balance: { $gt: 0 } } }],
    ['dot nested', { account: { 'profile.email': 'x' } }],
    ['NUL in a key', { 'a\u0000b': 1 }],
    ['leading $ inside an array', { list: [{ ok: 1 }, { $set: { admin: true } }] }],
    ['dot at level 8', nested(7, { 'deep.key': 1 })],
    ['empty key', { '': 1 }]
  ]
  for (const [what, details] of unsafe) {
    assertBadRequest(
      t,
      await post('/events', sampleEvent({ location, event_specificdetails: details })),
      'body/event_specificdetails',
      what
    )
  }
  t.equal(await storedWith(location), 0)

  // dollars and dots are fine in values and inside keys
  const safe = { price: '$100.00', cost$: 1, 'e-mail': 'john@gmail.com', list: [1, 'two', null, { ok: false }] }
  const res = await post('/events', sampleEvent({ event_specificdetails: safe }))
  t.equal(res.statusCode, 201)
  t.same((await storedById(res.json().id))?.event_specificdetails, safe)
})

t.test('event_specificdetails must be an object', async (t) => {
  for (const details of ['text', 42, [1, 2], null, true]) {
    assertBadRequest(
      t,
      await post('/events', sampleEvent({ event_specificdetails: details })),
      'body/event_specificdetails',
      `details ${JSON.stringify(details)}`
    )
  }
})

t.test('event_specificdetails: at most 32 KiB serialized', async (t) => {
  const limit = 32 * 1024
  const overhead = JSON.stringify({ blob: '' }).length
  const atLimit = await post('/events', sampleEvent({ event_specificdetails: { blob: 'x'.repeat(limit - overhead) } }))
  t.equal(atLimit.statusCode, 201, 'exactly 32 KiB is accepted')

  const location = marker()
  assertBadRequest(t, await post('/events', sampleEvent({ location, event_specificdetails: { blob: 'x'.repeat(limit - overhead + 1) } })),
    'body/event_specificdetails', 'one byte over')
  // the bound is on bytes, not characters: 16380 two-byte characters are 32760 bytes
  assertBadRequest(t, await post('/events', sampleEvent({ location, event_specificdetails: { blob: 'é'.repeat(16380) } })),
    'body/event_specificdetails', 'multi-byte characters over')
  t.equal(await storedWith(location), 0)
})

t.test('event_specificdetails: at most 8 levels deep', async (t) => {
  const ok = await post('/events', sampleEvent({ event_specificdetails: nested(8) }))
  t.equal(ok.statusCode, 201, '8 levels are accepted')
  t.same((await storedById(ok.json().id))?.event_specificdetails, nested(8))
  assertBadRequest(t, await post('/events', sampleEvent({ event_specificdetails: nested(9) })), 'body/event_specificdetails', '9 levels')
  // arrays are levels too
  assertBadRequest(
    t,
    await post('/events', sampleEvent({ event_specificdetails: nested(7, { list: [[1]] }) })),
    'body/event_specificdetails',
    'arrays at levels 8 and 9'
  )
})

t.test('a body over BODY_LIMIT → 413, nothing stored', async (t) => {
  const small = await build(t, { config: { BODY_LIMIT: 4096 } })
  const location = marker()
  const res = await post(
    '/events',
    sampleEvent({ location, description: 'z'.repeat(4000), event_specificdetails: { blob: 'x'.repeat(2000) } }),
    writerA,
    small
  )
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'BODY_TOO_LARGE')
  t.equal(await storedWith(location), 0)
  t.equal((await post('/events', sampleEvent({ location }), writerA, small)).statusCode, 201, 'a small body still goes through')
})

t.test('only writers may record events', async (t) => {
  const location = marker()
  const anonymous = await app.inject({ method: 'POST', url: '/events', payload: sampleEvent({ location }) })
  t.equal(anonymous.statusCode, 401)
  const reader = await post('/events', sampleEvent({ location }), readerA)
  t.equal(reader.statusCode, 403)
  const batch = await post('/events/batch', { events: [sampleEvent({ location })] }, readerA)
  t.equal(batch.statusCode, 403)
  t.equal(await storedWith(location), 0)
})

t.test('duplicate event_id: a repeat answers 200 with the first event, stored once', async (t) => {
  const first = await post('/events', sampleEvent({ event_id: 'dup-single' }))
  t.equal(first.statusCode, 201)
  const again = await post('/events', sampleEvent({ event_id: 'dup-single', description: 'a different text' }))
  t.equal(again.statusCode, 200)
  t.same(
    again.json(),
    { ...first.json(), status: 'duplicate', conflict: true },
    'same id and timestamp as the first; the different text is a conflict'
  )
  t.equal(await events().countDocuments({ tenant: 'tenant-a', event_id: 'dup-single' }), 1)
  t.equal((await storedById(first.json().id))?.description, sampleEvent().description, 'the first event is kept unchanged')

  const viaAlias = await post('/event', sampleEvent({ event_id: 'dup-single' }))
  t.equal(viaAlias.statusCode, 200)
  t.equal(viaAlias.json().id, first.json().id, 'the alias sees the same events')
  const viaBatch = await post('/events/batch', { events: [sampleEvent({ event_id: 'dup-single' })] })
  t.same(viaBatch.json().items, [{ ...first.json(), status: 'duplicate' }], 'and so does a batch')
  t.equal(await events().countDocuments({ tenant: 'tenant-a', event_id: 'dup-single' }), 1)
})

t.test('duplicate event_id across 50 concurrent requests: stored exactly once, every answer has its id', async (t) => {
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => post('/events', sampleEvent({ event_id: 'dup-race', description: `attempt ${i}` })))
  )
  const statuses = answers.map((res) => res.statusCode)
  t.equal(statuses.filter((s) => s === 201).length, 1, 'one created')
  t.equal(statuses.filter((s) => s === 200).length, 49, 'the others duplicate')
  const ids = new Set(answers.map((res) => res.json().id))
  t.equal(ids.size, 1, 'all answers carry the same id')
  t.equal(await events().countDocuments({ tenant: 'tenant-a', event_id: 'dup-race' }), 1, 'one document in the database')
  t.ok(await storedById([...ids][0] as string), 'and it is the answered one')
})

t.test('the same event_id in two tenants is two events', async (t) => {
  const a = await post('/events', sampleEvent({ event_id: 'shared-id' }), writerA)
  const b = await post('/events', sampleEvent({ event_id: 'shared-id' }), writerB)
  t.equal(a.statusCode, 201)
  t.equal(b.statusCode, 201, 'tenant B does not see tenant A\'s event as a duplicate')
  t.not(a.json().id, b.json().id)
  t.equal(await events().countDocuments({ event_id: 'shared-id' }), 2)
  t.equal((await storedById(b.json().id))?.tenant, 'tenant-b')
})

t.test('events without event_id are never duplicates of each other', async (t) => {
  const location = marker()
  const answers = await Promise.all([1, 2, 3].map(() => post('/events', sampleEvent({ location }))))
  t.same(answers.map((res) => res.statusCode), [201, 201, 201])
  t.equal(new Set(answers.map((res) => res.json().id)).size, 3)
  t.equal(await storedWith(location), 3)
})

t.test('POST /event (deprecated alias) has the same contract', async (t) => {
  const res = await post('/event', sampleEvent())
  t.equal(res.statusCode, 201)
  t.equal(res.json().status, 'created')
  const stored = await storedById(res.json().id)
  t.equal(stored?.tenant, 'tenant-a')
  t.equal(stored?.submitted_by, 'writer-a')
  assertBadRequest(t, await post('/event', sampleEvent({ tenant: 'tenant-b' })), '\'tenant\'', 'server field on the alias')
  assertBadRequest(t, await post('/event', sampleEvent({ ip: 'nope' })), 'body/ip', 'bad ip on the alias')
  t.equal((await app.inject({ method: 'POST', url: '/event', payload: sampleEvent() })).statusCode, 401)
  const spec = app.swagger() as { paths: Record<string, Record<string, { deprecated?: boolean }>> }
  t.equal(spec.paths['/event']?.post?.deprecated, true, 'marked deprecated in the OpenAPI document')
  t.not(spec.paths['/events']?.post?.deprecated, true, 'POST /events is not')
})

t.test('events are append-only: no route changes or deletes one', async (t) => {
  const res = await post('/events', sampleEvent({ event_id: 'append-only' }))
  const id = res.json().id as string
  const before = await storedById(id)
  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    for (const url of [`/events/${id}`, `/event/${id}`, '/events', '/event']) {
      const attempt = await app.inject({
        method,
        url,
        headers: bearer(writerA),
        payload: method === 'DELETE' ? undefined : sampleEvent({ description: 'changed' })
      })
      t.ok([404, 405].includes(attempt.statusCode), `${method} ${url} → ${attempt.statusCode}`)
    }
  }
  t.same(await storedById(id), before, 'the event is unchanged')
})

t.test('batch: 1 to 1000 events', async (t) => {
  const location = marker()
  assertBadRequest(t, await post('/events/batch', { events: [] }), 'body/events', 'empty batch')
  assertBadRequest(
    t,
    await post('/events/batch', { events: Array.from({ length: 1001 }, () => sampleEvent({ location })) }),
    'body/events',
    '1001 events'
  )
  assertBadRequest(t, await post('/events/batch', {}), '\'events\'', 'no events property')
  assertBadRequest(t, await post('/events/batch', { events: [sampleEvent({ location })], extra: 1 }), '\'extra\'', 'unknown batch property')
  assertBadRequest(t, await post('/events/batch', [sampleEvent({ location })]), 'body', 'a bare array')
  t.equal(await storedWith(location), 0)

  const full = await post('/events/batch', {
    events: Array.from({ length: 1000 }, (_, i) => sampleEvent({ location, event_id: `${location}-${i}` }))
  })
  t.equal(full.statusCode, 200, '1000 events are accepted')
  t.equal(full.json().items.length, 1000)
  t.ok(full.json().items.every((item: { status: string }) => item.status === 'created'))
  t.equal(await storedWith(location), 1000)
})

t.test('batch: one invalid event rejects the whole batch, naming its index and field', async (t) => {
  const location = marker()
  const batch = (bad: Record<string, unknown>, at: number) => ({
    events: Array.from({ length: 5 }, (_, i) => i === at ? sampleEvent({ location, ...bad }) : sampleEvent({ location }))
  })
  assertBadRequest(
    t,
    await post('/events/batch', batch({ ip: '1.2.3' }, 3)),
    /^body\/events\/3\/ip must be an IPv4 or IPv6 address$/,
    'bad ip at 3'
  )
  assertBadRequest(t, await post('/events/batch', batch({ description: '' }, 0)), 'body/events/0/description', 'empty description at 0')
  assertBadRequest(t, await post('/events/batch', batch({ tenant: 'tenant-b' }, 4)), /body\/events\/4 .*'tenant'/, 'server field at 4')
  assertBadRequest(
    t,
    await post('/events/batch', batch({ event_specificdetails: { $ne: 1 } }, 1)),
    'body/events/1/event_specificdetails',
    'unsafe details at 1'
  )
  const missing = batch({}, -1)
  delete (missing.events[2] as Record<string, unknown>).username
  assertBadRequest(t, await post('/events/batch', missing), /body\/events\/2 .*'username'/, 'missing username at 2')
  t.equal(await storedWith(location), 0, 'nothing of any rejected batch is stored')
})

t.test('batch: results in input order, duplicates within and against stored events', async (t) => {
  const location = marker()
  const earlier = await post('/events', sampleEvent({ location, event_id: `${location}-earlier` }))
  const input = [
    sampleEvent({ location, event_id: `${location}-0` }),
    sampleEvent({ location, event_id: `${location}-1` }),
    sampleEvent({ location, event_id: `${location}-earlier` }),
    sampleEvent({ location, event_id: `${location}-0` }),
    sampleEvent({ location, description: 'no event_id' }),
    sampleEvent({ location, event_id: `${location}-5` })
  ]
  const res = await post('/events/batch', { events: input })
  t.equal(res.statusCode, 200)
  const items = res.json().items as Array<{ id: string, timestamp: string, status: string }>
  t.equal(items.length, input.length)
  t.same(items.map((item) => item.status), ['created', 'created', 'duplicate', 'duplicate', 'created', 'created'])
  // its receipt promises the same statement, signed again within this batch (test/integrity/receipts.test.ts)
  const statement = ({ receipt: { tenant, seq, leaf_hash: leaf, timestamp }, ...answer }: { receipt: Record<string, unknown> }) =>
    ({ ...answer, receipt: { tenant, seq, leaf, timestamp } })
  t.same(
    statement(items[2] as never),
    { ...statement(earlier.json()), status: 'duplicate' },
    'a duplicate of a stored event answers with it'
  )
  t.equal(items[3]?.id, items[0]?.id, 'a duplicate within the batch answers with the first')
  t.equal(items[3]?.timestamp, items[0]?.timestamp)
  for (const [i, item] of items.entries()) {
    const stored = await storedById(item.id)
    t.equal(stored?.event_id, input[i]?.event_id, `item ${i} is the stored event of input ${i}`)
    t.equal(stored?.description, input[i]?.description)
  }
  t.equal(await storedWith(location), 5, 'earlier + 4 new, nothing twice')
  t.equal(await events().countDocuments({ location, event_id: `${location}-0` }), 1)
})
