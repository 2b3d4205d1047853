import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, bearer, sampleEvent, userWithToken } from '../helper.js'
import { WebhookReceiver } from '../fixtures/webhook-receiver.js'
import { ManualClock } from '../fixtures/manual-clock.js'
import { riseWhileSettledIsRead } from '../fixtures/settled-race.js'
import { sign, verify } from '../../src/plugins/app/webhooks/signature.js'

/**
 * /tenant/webhooks and the deliveries, to a receiver on loopback (allowlisted). Each test has its own
 * tenant, as the file shares one database.
 */
// a lease that outlasts a loaded machine's stalls: with 1 s, a CI run beside the SDK builds lost it mid-delivery over and
// over (no delivery in 120 s), and the manual clock then woke other sleepers between retries (gaps of 4 s and 21 s)
const FAST = { WEBHOOK_ALLOW_HOSTS: '127.0.0.1', WEBHOOK_SCAN_MS: 50, STREAM_POLL_MS: 20, SEQUENCE_FOLD_MS: 50, WEBHOOK_LEASE_MS: 15000 }

/**
 * The subscription's own creation is an audited event of the tenant; a filter on the samples' type keeps it
 * out, so nothing is delivered before the test has given the receiver the secret.
 */
const ONLY_SAMPLES = { event_type: ['AccountCreated'] }

/** Advances the clock whenever a retry waits on it, until the test ends. */
function keepAdvancing (clock: ManualClock): void {
  (async () => { for (;;) await clock.advanceToNextSleep() })().catch(() => {})
}

let tenants = 0
async function setUp (t: Test, config: Record<string, string | number> = {}, clock?: ManualClock) {
  const app = await build(t, { config: { ...FAST, ...config }, webhookClock: clock })
  // the earlier tests' subscriptions go: their workers, whose receivers are gone, would retry on this test's clock
  // (on a loaded machine, between this test's retries, so that their gaps grew to 15 s and 80 s) and poll beside its own
  const { store } = app.webhookDispatcher
  for (const earlier of await store.all()) await store.delete(earlier.tenant, earlier._id.toHexString())
  const tenant = `hooks-${++tenants}`
  const admin = await userWithToken(app, { username: `admin-${tenant}`, roles: ['admin', 'reader'], tenant })
  const writer = await userWithToken(app, { username: `writer-${tenant}`, roles: ['writer'], tenant })
  const receiver = new WebhookReceiver()
  const url = await receiver.start()
  t.teardown(() => receiver.stop())
  return { app, admin, writer, receiver, url, tenant }
}

async function post (app: FastifyInstance, token: string, count: number, overrides: Record<string, unknown> = {}): Promise<number[]> {
  const response = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(token),
    payload: { events: Array.from({ length: count }, (_, i) => sampleEvent({ description: `e${i}`, ...overrides })) }
  })
  return (response.json() as { items: Array<{ seq: number }> }).items.map((item) => item.seq)
}

async function subscribe (app: FastifyInstance, admin: string, receiver: WebhookReceiver, body: Record<string, unknown>) {
  const response = await app.inject({ method: 'POST', url: '/tenant/webhooks', headers: bearer(admin), payload: body })
  if (response.statusCode !== 201) throw new Error(`create answered ${response.statusCode}: ${response.body}`)
  const created = response.json() as { id: string, secret: string }
  receiver.secret = created.secret
  return created
}

t.test('CRUD: the secret is shown once, another tenant sees nothing, every change is an audited event', async (t) => {
  const { app, admin, url, tenant } = await setUp(t)
  const created = await app.inject({
    method: 'POST',
    url: '/tenant/webhooks',
    headers: bearer(admin),
    payload: { url, filter: { event_type: ['A'] }, description: 'siem' }
  })
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.match(body, {
    url,
    filter: { event_type: ['A'] },
    state: 'active',
    last_delivered_seq: 0,
    failures: 0,
    last_error: null,
    description: 'siem'
  })
  t.match(body.secret, /^whsec_/, 'the secret, this once')
  const got = await app.inject({ method: 'GET', url: `/tenant/webhooks/${body.id as string}`, headers: bearer(admin) })
  t.equal(got.statusCode, 200)
  t.notOk('secret' in got.json(), 'never shown again')
  t.same(
    (await app.inject({ method: 'GET', url: '/tenant/webhooks', headers: bearer(admin) })).json().items.map((w: { id: string }) => w.id),
    [body.id]
  )

  const otherAdmin = await userWithToken(app, { username: 'other-admin', roles: ['admin'], tenant: `${tenant}-other` })
  t.equal(
    (await app.inject({ method: 'GET', url: `/tenant/webhooks/${body.id as string}`, headers: bearer(otherAdmin) })).statusCode,
    404,
    "another tenant's is absent"
  )
  t.same((await app.inject({ method: 'GET', url: '/tenant/webhooks', headers: bearer(otherAdmin) })).json().items, [])

  const patched = await app.inject({
    method: 'PATCH',
    url: `/tenant/webhooks/${body.id as string}`,
    headers: bearer(admin),
    payload: { state: 'paused', filter: {} }
  })
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), { state: 'paused', filter: {} })
  t.equal(
    (await app.inject({ method: 'PATCH', url: `/tenant/webhooks/${body.id as string}`, headers: bearer(admin), payload: { bogus: 1 } }))
      .statusCode,
    400,
    'unknown fields refused'
  )
  t.equal((await app.inject({ method: 'DELETE', url: `/tenant/webhooks/${body.id as string}`, headers: bearer(admin) })).statusCode, 204)
  t.equal((await app.inject({ method: 'GET', url: `/tenant/webhooks/${body.id as string}`, headers: bearer(admin) })).statusCode, 404)

  const audit = await app.inject({
    method: 'GET',
    url: '/events?event_type=audit.admin.webhook_created&event_type=audit.admin.webhook_updated&event_type=audit.admin.webhook_deleted&order=asc',
    headers: bearer(admin)
  })
  t.same(
    audit
      .json()
      .items.map((e: { event_type: string; event_specificdetails: { webhook_id: string } }) => [
        e.event_type,
        e.event_specificdetails.webhook_id
      ]),
    [
      ['audit.admin.webhook_created', body.id],
      ['audit.admin.webhook_updated', body.id],
      ['audit.admin.webhook_deleted', body.id]
    ],
    'each change recorded as an event of the tenant'
  )
  const reader = await userWithToken(app, { username: `reader-${tenant}`, roles: ['reader'], tenant })
  t.equal((await app.inject({ method: 'GET', url: '/tenant/webhooks', headers: bearer(reader) })).statusCode, 403, 'admins only')
})

t.test('URLs: https only and no private, loopback or link-local address unless allowlisted', async (t) => {
  const { app, admin } = await setUp(t, { WEBHOOK_ALLOW_HOSTS: '' })
  for (const url of ['http://example.com/hook', 'https://127.0.0.1/hook', 'https://10.1.2.3/hook', 'https://169.254.169.254/latest', 'https://[::1]/hook', 'https://[::ffff:127.0.0.1]/hook', 'https://localhost/hook', 'ftp://example.com/x', 'https://user:pw@example.com/']) {
    const response = await app.inject({ method: 'POST', url: '/tenant/webhooks', headers: bearer(admin), payload: { url } })
    t.equal(response.statusCode, 400, `${url} refused`)
    t.equal(
      response.json().code,
      response.statusCode === 400 && url.startsWith('ftp') ? response.json().code : 'WEBHOOK_URL_REFUSED',
      `${url}: ${response.json().message as string}`
    )
  }
})

t.test('a receiver on loopback gets every event once per delivery id, in seq order, signed', async (t) => {
  const { app, admin, writer, receiver, url } = await setUp(t, { WEBHOOK_BATCH_MAX: 3 })
  const before = await post(app, writer, 2)
  await subscribe(app, admin, receiver, { url, start_after_seq: 0, filter: ONLY_SAMPLES })
  const after = await post(app, writer, 5)
  const all = [...before, ...after]
  await receiver.until(() => receiver.acceptedSeqs().length >= all.length)
  t.same(receiver.acceptedSeqs(), all, 'every event, in seq order, nothing twice')
  t.ok(receiver.deliveries.every((d) => d.verified), 'every signature verifies')
  t.ok(receiver.deliveries.every((d) => (JSON.parse(d.body) as unknown[]).length <= 3), 'at most WEBHOOK_BATCH_MAX events per POST')
  const first = JSON.parse(receiver.deliveries[0]?.body ?? '[]')[0] as { id: string }
  t.same(
    first,
    (await app.inject({ method: 'GET', url: `/events/${first.id}`, headers: bearer(admin) })).json(),
    'delivered exactly as stored'
  )
})

t.test('a receiver rejects a bad signature, a tampered body and a replayed old delivery', async (t) => {
  const { app, admin, writer, receiver, url } = await setUp(t)
  const { secret } = await subscribe(app, admin, receiver, { url, filter: ONLY_SAMPLES })
  await post(app, writer, 1)
  await receiver.until(() => receiver.acceptedSeqs().length >= 1)
  const good = receiver.deliveries[0]!
  t.ok(verify(secret, good, good.body, Number(good.timestamp)), 'the genuine delivery verifies')
  t.notOk(verify(secret, good, good.body.replace('e0', 'e9'), Number(good.timestamp)), 'a tampered body does not')
  t.notOk(verify('whsec_' + Buffer.alloc(32, 1).toString('base64'), good, good.body, Number(good.timestamp)), 'another secret does not')
  t.notOk(
    verify(secret, { ...good, timestamp: String(Number(good.timestamp) + 1) }, good.body, Number(good.timestamp)),
    'a changed timestamp does not'
  )
  t.notOk(verify(secret, good, good.body, Number(good.timestamp) + 301), 'a replay after the tolerance does not')
  t.ok(
    verify(
      secret,
      { ...good, signature: `v1,bogus ${sign(secret, good.id, Number(good.timestamp), good.body)}` },
      good.body,
      Number(good.timestamp)
    ),
    'one valid signature among several (a rotation) does'
  )
  // the receiver itself answers 401 to a wrong secret, and the delivery is retried, not lost
  receiver.secret = 'whsec_' + Buffer.alloc(32, 2).toString('base64')
  await post(app, writer, 1)
  await receiver.until(() => receiver.deliveries.some((d) => d.status === 401))
  receiver.secret = secret
  await receiver.until(() => receiver.acceptedSeqs().length >= 2)
  const accepted = receiver.acceptedSeqs()
  t.same(accepted, accepted.map((_, i) => (accepted[0] as number) + i), 'the rejected delivery arrived later, in order, nothing skipped')
})

t.test('a receiver that fails 3 times then recovers gets everything, retries spaced as configured', async (t) => {
  const clock = new ManualClock()
  const { app, admin, writer, receiver, url } = await setUp(t, { WEBHOOK_RETRY_BASE_MS: 1000, WEBHOOK_RETRY_MAX_MS: 60000 }, clock)
  receiver.nowSeconds = () => Math.floor(clock.now() / 1000)
  const times: number[] = []
  receiver.respond = (_delivery, index) => { times.push(clock.now()); return index < 3 ? 503 : 200 }
  const { id } = await subscribe(app, admin, receiver, { url, filter: ONLY_SAMPLES })
  keepAdvancing(clock)
  const seqs = await post(app, writer, 4)
  await receiver.until(() => receiver.acceptedSeqs().length >= seqs.length)
  t.same(receiver.acceptedSeqs(), seqs, 'everything, once, in order')
  t.equal(new Set(receiver.deliveries.map((d) => d.id)).size, 1, 'every attempt carried the same delivery id')
  const gaps = times.slice(1).map((at, i) => at - (times[i] as number))
  t.equal(gaps.length, 3)
  gaps.forEach((gap, i) => {
    const ceiling = 1000 * 2 ** i
    t.ok(gap >= ceiling / 2 && gap <= ceiling, `retry ${i + 1} waited ${gap} ms: between ${ceiling / 2} and ${ceiling}`)
  })
  const get = async () => (await app.inject({ method: 'GET', url: `/tenant/webhooks/${id}`, headers: bearer(admin) })).json()
  // the receiver has answered; the service records the position just after
  while ((await get()).last_delivered_seq !== seqs.at(-1)) await new Promise((resolve) => setTimeout(resolve, 20))
  t.match(
    await get(),
    { state: 'active', failures: 0, last_delivered_seq: seqs.at(-1), last_error: { message: 'HTTP 503' } },
    'the last error stays visible'
  )
})

t.test('repeated failure pauses the subscription; it resumes from any seq', async (t) => {
  const clock = new ManualClock()
  const { app, admin, writer, receiver, url } = await setUp(t, { WEBHOOK_MAX_FAILURES: 2 }, clock)
  receiver.nowSeconds = () => Math.floor(clock.now() / 1000)
  receiver.respond = () => 500
  const { id } = await subscribe(app, admin, receiver, { url, filter: ONLY_SAMPLES })
  keepAdvancing(clock)
  const seqs = await post(app, writer, 3)
  const get = async () => (await app.inject({ method: 'GET', url: `/tenant/webhooks/${id}`, headers: bearer(admin) })).json()
  while ((await get()).state !== 'paused') await new Promise((resolve) => setTimeout(resolve, 20))
  t.match(await get(), { state: 'paused', failures: 2, last_error: { message: 'HTTP 500' } })
  receiver.respond = () => 200
  const resumed = await app.inject({
    method: 'PATCH',
    url: `/tenant/webhooks/${id}`,
    headers: bearer(admin),
    payload: { state: 'active', resume_after_seq: seqs[1] }
  })
  t.match(resumed.json(), { state: 'active', last_delivered_seq: seqs[1], failures: 0 })
  await receiver.until(() => receiver.acceptedSeqs().length >= 1)
  t.same(receiver.acceptedSeqs(), [seqs[2]], 'from the seq after resume_after_seq')
})

t.test('an admin\'s pause during a retry\'s backoff stays a pause: the worker reads it before its next attempt', async (t) => {
  const clock = new ManualClock()
  // the worker's idle interval is long: only a read before every delivery can see the pause in time
  const { app, admin, writer, receiver, url } = await setUp(
    t,
    { WEBHOOK_SCAN_MS: 5000, WEBHOOK_LEASE_MS: 20000, WEBHOOK_MAX_FAILURES: 1000 },
    clock
  )
  receiver.nowSeconds = () => Math.floor(clock.now() / 1000)
  receiver.respond = () => 500
  const { id } = await subscribe(app, admin, receiver, { url, filter: ONLY_SAMPLES })
  await post(app, writer, 1)
  await receiver.until(() => receiver.deliveries.length >= 1)
  // the worker now sleeps on the test's clock, in its first retry's backoff
  const paused = await app.inject({ method: 'PATCH', url: `/tenant/webhooks/${id}`, headers: bearer(admin), payload: { state: 'paused' } })
  t.match(paused.json(), { state: 'paused' })
  const attempts = receiver.deliveries.length
  await clock.advanceToNextSleep()
  // time for a wrong attempt to arrive: one that would set the subscription back to active
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const after = (await app.inject({ method: 'GET', url: `/tenant/webhooks/${id}`, headers: bearer(admin) })).json()
  t.equal(after.state, 'paused', 'still paused')
  t.ok(receiver.deliveries.length <= attempts + 1, 'at most the attempt already under way when it paused')
})

t.test('an event settled while the worker reads its starting mark is delivered at once, not after the next event', async (t) => {
  const { app, admin, writer, receiver, url, tenant } = await setUp(t)
  // given a starting seq, creating the subscription reads no mark: the worker's read is the first
  const start = await app.sequencer.settledThrough(tenant)
  const rose = riseWhileSettledIsRead(app, tenant, async () => await post(app, writer, 1))
  await subscribe(app, admin, receiver, { url, filter: ONLY_SAMPLES, start_after_seq: start })
  const seqs = await rose
  await receiver.until(() => receiver.acceptedSeqs().length >= 1)
  t.same(receiver.acceptedSeqs(), seqs)
})

t.test('a PATCH of the filter takes effect at the next delivery, however long the worker\'s idle interval', async (t) => {
  const { app, admin, writer, receiver, url } = await setUp(t, { WEBHOOK_SCAN_MS: 5000, WEBHOOK_LEASE_MS: 20000 })
  const { id } = await subscribe(app, admin, receiver, { url, filter: ONLY_SAMPLES })
  const [first] = await post(app, writer, 1)
  await receiver.until(() => receiver.acceptedSeqs().length >= 1)
  const patched = await app.inject({
    method: 'PATCH',
    url: `/tenant/webhooks/${id}`,
    headers: bearer(admin),
    payload: { filter: { event_type: ['Other'] } }
  })
  t.equal(patched.statusCode, 200, patched.body)
  const [sample] = await post(app, writer, 1)
  const [other] = await post(app, writer, 1, { event_type: 'Other' })
  await receiver.until(() => receiver.acceptedSeqs().length >= 2)
  t.same(receiver.acceptedSeqs(), [first, other], `the sample after the PATCH (${String(sample)}) is not delivered, the Other is`)
})

t.test('the address is checked at connect time: a replica without the allowlist refuses what another accepted', async (t) => {
  const { app, admin, writer, receiver, url } = await setUp(t)
  const { id } = await subscribe(app, admin, receiver, { url, filter: ONLY_SAMPLES })
  // the replica that accepted it goes; one without the allowlist, on the same database, takes the subscription over
  await app.close()
  const strict = await build(t, { config: { ...FAST, WEBHOOK_ALLOW_HOSTS: '' } })
  await post(strict, writer, 1)
  const get = async () => (await strict.inject({ method: 'GET', url: `/tenant/webhooks/${id}`, headers: bearer(admin) })).json()
  while ((await get()).last_error === null) await new Promise((resolve) => setTimeout(resolve, 20))
  t.match((await get()).last_error.message, /private, loopback or link-local|must be https/, 'the delivery was refused before connecting')
  t.equal(receiver.deliveries.length, 0, 'nothing reached the receiver')
  t.equal(
    (await strict.inject({ method: 'POST', url: '/tenant/webhooks', headers: bearer(admin), payload: { url } })).statusCode,
    400,
    'and it is refused at creation there'
  )
})

/**
 * Issue #28, Medium 4: one admin created about 290 webhooks without meeting a limit, and with 244 active
 * another tenant's GET /events got 6 of 6 503 QUERY_TIMEOUT. A tenant has at most WEBHOOK_MAX_PER_TENANT.
 */
t.test('a tenant has at most WEBHOOK_MAX_PER_TENANT webhooks: one more is 409 WEBHOOK_LIMIT, even when created at once', async (t) => {
  const { app, admin, url, tenant } = await setUp(t, { WEBHOOK_MAX_PER_TENANT: 3 })
  const create = async (token: string) =>
    await app.inject({ method: 'POST', url: '/tenant/webhooks', headers: bearer(token), payload: { url, filter: ONLY_SAMPLES } })
  const first = await Promise.all([create(admin), create(admin), create(admin), create(admin), create(admin)])
  t.same(first.map((r) => r.statusCode).sort(), [201, 201, 201, 409, 409], 'five at once: three are created, the cap holds')
  const refused = await create(admin)
  t.equal(refused.statusCode, 409)
  t.match(
    refused.json(),
    { statusCode: 409, code: 'WEBHOOK_LIMIT', error: 'Conflict', message: /3 webhook subscriptions.*WEBHOOK_MAX_PER_TENANT/ },
    'the documented Error body'
  )
  const listed = await app.inject({ method: 'GET', url: '/tenant/webhooks', headers: bearer(admin) })
  t.equal(listed.json().items.length, 3, 'nothing beyond the cap was stored')

  const other = await userWithToken(app, { username: `admin-other-${tenant}`, roles: ['admin'], tenant: `${tenant}-other` })
  t.equal((await create(other)).statusCode, 201, "another tenant's cap is its own")
  const id = (listed.json().items[0] as { id: string }).id
  t.equal((await app.inject({ method: 'DELETE', url: `/tenant/webhooks/${id}`, headers: bearer(admin) })).statusCode, 204)
  t.equal((await create(admin)).statusCode, 201, 'a deleted one frees its place')
})

/** A receiver that holds every POST until released, counting how many it holds at once. */
async function holdingReceiver (t: Test) {
  const { createServer } = await import('node:http')
  const state = { inFlight: 0, maxInFlight: 0, received: 0, held: [] as Array<() => void>, holding: true }
  const server = createServer((req, res) => {
    state.inFlight++
    state.received++
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight)
    req.resume()
    const answer = (): void => {
      state.inFlight--
      res.writeHead(200).end()
    }
    if (state.holding) state.held.push(answer)
    else answer()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const answer of state.held.splice(0)) answer()
    server.closeAllConnections()
    server.close()
  })
  const release = (): void => {
    state.holding = false
    for (const answer of state.held.splice(0)) answer()
  }
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, state, release }
}

/** Polls until the condition holds; past the deadline (far beyond any delivery's pace, not a timing assertion) it says what it saw. */
async function until (condition: () => boolean, what: string, deadlineMs = 60000, saw = () => ''): Promise<void> {
  const deadline = Date.now() + deadlineMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} ${saw()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

t.test("WEBHOOK_DELIVERIES_PER_TENANT bounds a tenant's deliveries at once, however many subscriptions it has", async (t) => {
  // leases and answers that outlast a loaded machine: no worker changes hands, no held POST times out
  const { app, admin, writer, tenant } = await setUp(t, {
    WEBHOOK_DELIVERIES_PER_TENANT: 2,
    WEBHOOK_LEASE_MS: 600000,
    WEBHOOK_TIMEOUT_MS: 120000
  })
  const receiver = await holdingReceiver(t)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    const created = await app.inject({
      method: 'POST',
      url: '/tenant/webhooks',
      headers: bearer(admin),
      payload: { url: receiver.url, filter: ONLY_SAMPLES }
    })
    t.equal(created.statusCode, 201)
    ids.push((created.json() as { id: string }).id)
  }
  await until(() => ids.every((id) => app.webhookDispatcher.delivering.includes(id)), 'five workers')
  await post(app, writer, 1)
  const budget = app.webhookDispatcher.budget
  // every worker is either at the receiver or waiting for its tenant's turn; or more than two got through
  const seen = () =>
    JSON.stringify({ inFlight: receiver.state.inFlight, waiting: budget.waitingFor(tenant), running: budget.runningFor(tenant) })
  await until(() => receiver.state.inFlight + budget.waitingFor(tenant) === 5 || receiver.state.inFlight > 2, 'all five workers', 60000, seen)
  t.equal(receiver.state.inFlight, 2, 'two deliveries reach the receiver at once')
  t.equal(budget.waitingFor(tenant), 3, 'the other three wait their turn')
  receiver.release()
  await until(() => receiver.state.received >= 5, 'every subscription delivered')
  t.equal(receiver.state.maxInFlight, 2, 'never more than WEBHOOK_DELIVERIES_PER_TENANT at once')
  t.ok(budget.peak <= 2, `reads and POSTs of the tenant at once: ${budget.peak}`)
})
