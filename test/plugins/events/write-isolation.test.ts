import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { EventInput } from '../../../src/schemas/event.js'
import type { WriteOutcome } from '../../../src/plugins/app/events/event-writer.js'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'

/**
 * Group commit shares one bulk insert between requests and tenants: an event that cannot be hashed or
 * stored must fail alone. The poison is put below validation (straight into the write path, as an
 * internal caller or a future route could), so the guarantee does not rest on validation. The others of
 * the same bulk are stored and acknowledged, and no `write_not_completed` hole appears among their seqs.
 */

// a long wait and a large batch: everything submitted in one tick shares one bulk insert
const config = { GROUP_COMMIT_MAX_WAIT_MS: 300, GROUP_COMMIT_MAX_BATCH: 1000, SEQUENCE_FOLD_MS: 50 }

const writerOf = (tenant: string) => ({ tenant, username: `writer-${tenant}` })

function event (details: Record<string, unknown>, overrides: Partial<EventInput> = {}): EventInput {
  return { ...(sampleEvent() as unknown as EventInput), event_specificdetails: details, ...overrides }
}

let auditors = 0

/** Every seq of the tenant up to its last is settled, and none is a hole: polled, as the fold runs on its own clock. */
async function completeness (t: Test, app: FastifyInstance, tenant: string, lastSeq: number) {
  const headers = bearer(await userWithToken(app, { username: `auditor-${tenant}-${++auditors}`, roles: ['reader'], tenant }))
  let report: { last_seq: number, holes: unknown[], in_flight: number } = { last_seq: -1, holes: [], in_flight: -1 }
  // up to ~30 s on a loaded machine: the fold runs every 50 ms here, while an abandoned claim waits SEQUENCE_STALE_MS (60 s)
  for (let i = 0; i < 600 && report.last_seq < lastSeq; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50))
    report = (await app.inject({ method: 'GET', url: '/integrity/completeness', headers })).json()
  }
  // at least: a read of the report is itself audited where access auditing is on
  t.ok(report.last_seq >= lastSeq, `${tenant}: settled through seq ${lastSeq}, not stalled behind an abandoned claim (${report.last_seq})`)
  return report
}

t.test('events that cannot be hashed fail alone: the other tenant\'s events of the same bulk are stored, with no hole', async (t) => {
  const app = await build(t, { config })
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const poisons: Array<[string, EventInput, RegExp]> = [
    ['Infinity', event({ amount: Infinity }), /^\/event_specificdetails\/amount must be a finite number$/],
    ['-Infinity in an array', event({ list: [1, -Infinity] }), /^\/event_specificdetails\/list\/1 must be a finite number$/],
    ['NaN', event({ nested: { n: NaN } }), /^\/event_specificdetails\/nested\/n must be a finite number$/],
    ['a BigInt', event({ big: 10n }), /^\/event_specificdetails\/big must be a number, not a BigInt$/],
    ['a cycle', event(cyclic), /^\/event_specificdetails\/self refers to itself$/],
    ['a lone surrogate', event({}, { description: 'half \ud800' }), /^\/description has a lone UTF-16 surrogate$/],
    ['undefined', event({ gone: undefined }), /^\/event_specificdetails\/gone has no JSON value$/],
    ['a function', event({ f: () => 1 }), /^\/event_specificdetails\/f has no JSON value$/]
  ]
  const writer = app.eventWriter
  // the poisons first, so that the bulk they share with the other tenant's events is the one their timer starts
  const poisoned = poisons.map(([, input]) => writer.write(writerOf('a1'), [input]))
  const mixed = writer.write(writerOf('a1'), [event({ ok: 1 }), event({ amount: Infinity }), event({ ok: 2 })])
  const victims = Array.from({ length: 10 }, (_, i) => writer.write(writerOf('b1'), [event({ n: i })]))
  const batch = writer.write(writerOf('b1'), Array.from({ length: 5 }, (_, i) => event({ in_batch: i })))

  for (const [i, [name, , reason]] of poisons.entries()) {
    const [outcome] = await poisoned[i] as WriteOutcome[]
    t.equal(outcome?.status, 'error', `${name}: its own error`)
    t.match(outcome, { unstorable: reason }, `${name}: the reason names the path`)
    t.notOk(outcome?.status === 'error' && outcome.retryable, `${name}: not to be retried as it is`)
  }
  const [first, bad, third] = await mixed
  t.equal(first?.status, 'created', 'a request\'s storable events are stored beside its unstorable one')
  t.match(bad, { status: 'error', unstorable: /amount must be a finite number/ })
  t.equal(third?.status, 'created')

  const acknowledged = (await Promise.all(victims)).flat().concat(await batch)
  t.equal(acknowledged.length, 15)
  t.ok(acknowledged.every((outcome) => outcome.status === 'created'), 'every event of the other tenant is acknowledged')
  const seqs = acknowledged.map((outcome) => (outcome as { seq: number }).seq).sort((a, b) => a - b)
  t.same(seqs, Array.from({ length: 15 }, (_, i) => i + 1), 'the other tenant\'s seqs are 1..15, none burnt')
  const events = app.mongo.db!.collection('events')
  t.equal(await events.countDocuments({ tenant: 'b1' }), 15, 'all stored')
  t.equal(await events.countDocuments({ tenant: 'a1' }), 2, 'of the poisoned tenant, only the storable events')

  const b = await completeness(t, app, 'b1', 15)
  t.same(b.holes, [], 'no hole in the other tenant')
  const a = await completeness(t, app, 'a1', 2)
  t.same(a.holes, [], 'an unstorable event takes no seq: no hole in the poisoned tenant either')
})

t.test('through HTTP: a poisoned write beside a tenant\'s POST /events leaves its answers 201', async (t) => {
  const app = await build(t, { config })
  const headers = bearer(await userWithToken(app, { username: 'victim', roles: ['writer'], tenant: 'b2' }))
  const poisoned = app.eventWriter.write(writerOf('a2'), [event({ amount: -Infinity })])
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) => app.inject({ method: 'POST', url: '/events', headers, payload: sampleEvent({ event_id: `v-${i}` }) }))
  )
  t.same(answers.map((res) => res.statusCode), Array(8).fill(201), 'every request of the other tenant is answered 201')
  t.match((await poisoned)[0], { status: 'error', unstorable: /amount must be a finite number/ })
  t.same((await completeness(t, app, 'b2', 8)).holes, [])
})

t.test('an event whose hashing throws only once it has its seq fails alone; its seq is a recorded hole of its own tenant', async (t) => {
  const app = await build(t, { config })
  // passes the check before sequencing, then reads as Infinity when its leaf is hashed: a stand-in for any
  // fault of hashing or preparing that no check foresaw
  let reads = 0
  const treacherous: Record<string, unknown> = {}
  Object.defineProperty(treacherous, 'amount', { enumerable: true, get: () => (++reads > 1 ? Infinity : 1) })
  const poisoned = app.eventWriter.write(writerOf('a3'), [event({}), event(treacherous), event({})])
  const victims = Array.from({ length: 5 }, (_, i) => app.eventWriter.write(writerOf('b3'), [event({ n: i })]))
  const [before, bad, after] = await poisoned
  t.equal(before?.status, 'created')
  t.match(bad, { status: 'error', unstorable: /amount must be a finite number/ }, 'its own error')
  t.equal(after?.status, 'created')
  const acknowledged = (await Promise.all(victims)).flat()
  t.ok(acknowledged.every((outcome) => outcome.status === 'created'), 'every event of the other tenant is acknowledged')
  t.same((await completeness(t, app, 'b3', 5)).holes, [], 'no hole in the other tenant')
  const a = await completeness(t, app, 'a3', 3)
  t.match(a.holes, [{ from: 2, to: 2, reason: 'write_not_completed' }], 'the seq it took is settled at once as a hole')
  t.equal(await app.mongo.db!.collection('events').countDocuments({ tenant: 'a3' }), 2)
})

t.test('a read whose audit event cannot be stored is refused (503) alone; the writes it shares a bulk with are stored', async (t) => {
  const app = await build(t, { config: { ...config, AUDIT_ACCESS: true } })
  const request = { method: 'GET', url: '/events', routeOptions: { url: '/events' }, ip: '10.0.0.9', log: app.log } as never
  const audit = app.auditTrail.record(
    { tenant: 'a4', username: 'reader' },
    request,
    [{ event_type: 'audit.read.events', entitytype: 'event', description: 'read', details: { filter: { afterSeq: Infinity } } }]
  )
  const victims = Array.from({ length: 5 }, (_, i) => app.eventWriter.write(writerOf('b4'), [event({ n: i })]))
  const err = await audit.then(() => undefined, (error: unknown) => error)
  t.match(err, { statusCode: 503, code: 'EVENT_NOT_WRITTEN' }, 'the read is refused, not answered unrecorded')
  t.ok((await Promise.all(victims)).flat().every((outcome) => outcome.status === 'created'), 'the other tenant\'s events are stored')
  t.same((await completeness(t, app, 'b4', 5)).holes, [])
})

t.test('an event poisoned after validation is a 400 naming its field for POST /events, and an error item of its batch alone', async (t) => {
  const app = await build(t, { config })
  const headers = bearer(await userWithToken(app, { username: 'poisoned-writer', roles: ['writer'], tenant: 'a5' }))
  // between validation and the write path: where a fault of the service (or a route to come) would put it
  const write = app.eventWriter.write.bind(app.eventWriter)
  app.eventWriter.write = async (principal, inputs, receivedAt) =>
    await write(principal, inputs.map((input) => (input.description === 'poison' ? { ...input, event_specificdetails: { amount: Infinity } } : input)), receivedAt)
  t.teardown(() => { app.eventWriter.write = write })

  const single = await app.inject({ method: 'POST', url: '/events', headers, payload: sampleEvent({ description: 'poison' }) })
  t.equal(single.statusCode, 400)
  t.match(single.json(), { code: 'VALIDATION_FAILED', message: 'body/event_specificdetails/amount must be a finite number' })
  const batch = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers,
    payload: { events: [sampleEvent(), sampleEvent({ description: 'poison' }), sampleEvent()] }
  })
  t.equal(batch.statusCode, 200)
  t.match(batch.json().items, [
    { status: 'created', seq: 1 },
    { status: 'error', error: 'body/events/1/event_specificdetails/amount must be a finite number' },
    { status: 'created', seq: 2 }
  ])
})

t.test('a tenant whose seqs cannot be claimed fails its own requests with that error; the other tenants of the bulk are stored', async (t) => {
  const app = await build(t, { config })
  const reserve = app.sequencer.reserve.bind(app.sequencer)
  const refused = new Error('the claim could not be made')
  app.sequencer.reserve = async (tenant, count) => {
    if (tenant === 'a6') throw refused
    return await reserve(tenant, count)
  }
  t.teardown(() => { app.sequencer.reserve = reserve })
  const failing = app.eventWriter.write(writerOf('a6'), [event({ n: 1 }), event({ n: 2 })])
  const victims = Array.from({ length: 5 }, (_, i) => app.eventWriter.write(writerOf('b6'), [event({ n: i })]))
  t.equal(await failing.then(() => undefined, (err: unknown) => err), refused, 'the claiming tenant\'s request fails with its error')
  t.ok((await Promise.all(victims)).flat().every((outcome) => outcome.status === 'created'), 'the other tenant\'s events are stored')
  t.same((await completeness(t, app, 'b6', 5)).holes, [])
  const alone = app.eventWriter.write(writerOf('a6'), [event({ n: 3 })])
  t.equal(await alone.then(() => undefined, (err: unknown) => err), refused, 'alone in its bulk, it fails as before')
})
