import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { MongoClient } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { build, bearer, MONGODB_URL, sampleEvent, testDatabaseName, userWithToken } from '../helper.js'
import { SseClient } from '../fixtures/sse-client.js'

/**
 * API keys for machine clients (issue #29): created by an admin (the key shown once, only its hash stored), sent as
 * `Authorization: Bearer <key>` within its roles, listed without secrets, revoked on every replica within
 * AUTH_CACHE_MS (open streams included), refused past their expiry with the expiry recorded once, capped per
 * tenant and rate-limited per key.
 */
const AUTH_CACHE_MS = 300
/** A revoked stream's end and an event's arrival: generous, for a loaded machine. */
const WITHIN_MS = 30000

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

interface Tenant { name: string, admin: string, writer: string, reader: string }

let tenants = 0
async function tenantOn (app: FastifyInstance): Promise<Tenant> {
  const name = `keys-${++tenants}`
  return {
    name,
    admin: await userWithToken(app, { username: `admin-${name}`, roles: ['admin'], tenant: name }),
    writer: await userWithToken(app, { username: `writer-${name}`, roles: ['writer'], tenant: name }),
    reader: await userWithToken(app, { username: `reader-${name}`, roles: ['reader'], tenant: name })
  }
}

interface Created { id: string, key: string, name: string, roles: string[], prefix: string, expires_at?: string }

async function createKey (app: FastifyInstance, admin: string, body: Record<string, unknown>): Promise<Created> {
  const response = await app.inject({ method: 'POST', url: '/tenant/api-keys', headers: bearer(admin), payload: body })
  if (response.statusCode !== 201) throw new Error(`create answered ${response.statusCode}: ${response.body}`)
  return response.json()
}

async function postEvent (app: FastifyInstance, credential: string, overrides: Record<string, unknown> = {}) {
  return await app.inject({ method: 'POST', url: '/events', headers: bearer(credential), payload: sampleEvent(overrides) })
}

async function entries (app: FastifyInstance, reader: string, eventType: string): Promise<Array<Record<string, any>>> {
  const response = await app.inject({ method: 'GET', url: `/events?event_type=${eventType}`, headers: bearer(reader) })
  if (response.statusCode !== 200) throw new Error(`GET /events answered ${response.statusCode}: ${response.body}`)
  return response.json().items
}

async function until (condition: () => Promise<boolean>, what: string, ms = WITHIN_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(50)
  }
}

async function replica (t: Test, config: Record<string, string | number> = {}): Promise<FastifyInstance> {
  return await build(t, { config: { AUTH_CACHE_MS, STREAM_POLL_MS: 20, SEQUENCE_FOLD_MS: 50, ...config } })
}

t.test('a key authenticates POST /events and GET /events per its roles, 403 beyond them; its creation is in the log', async (t) => {
  const app = await replica(t)
  const tenant = await tenantOn(app)
  const writer = await createKey(app, tenant.admin, { name: 'billing-service', roles: ['writer'] })
  t.match(writer.key, /^alk_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/, 'a recognisable key: prefix, id, 256-bit secret')
  t.equal(writer.prefix, `alk_${writer.id}`)
  t.same(writer.roles, ['writer'])

  const posted = await postEvent(app, writer.key)
  t.equal(posted.statusCode, 201, 'a writer key submits')
  t.equal((await app.inject({ method: 'GET', url: '/events', headers: bearer(writer.key) })).statusCode, 403, 'and cannot read')
  const reader = await createKey(app, tenant.admin, { name: 'siem', roles: ['reader'] })
  t.equal((await postEvent(app, reader.key)).statusCode, 403, 'a reader key cannot submit')
  const read = await app.inject({ method: 'GET', url: '/events?event_type=AccountCreated', headers: bearer(reader.key) })
  t.equal(read.statusCode, 200, 'and reads')
  t.same(read.json().items.map((event: { submitted_by: string }) => event.submitted_by), [`api-key:${writer.id}`], 'submitted by the key')
  t.equal((await app.inject({ method: 'POST', url: '/tenant/api-keys', headers: bearer(writer.key), payload: { name: 'x', roles: ['writer'] } })).statusCode,
    403, 'a key cannot make keys')
  const me = await app.inject({ method: 'GET', url: '/me', headers: bearer(reader.key) })
  t.match(me.json(), { username: `api-key:${reader.id}`, tenant: tenant.name, roles: ['reader'], token_expires_at: '9999-12-31T23:59:59.999Z' })

  t.equal((await postEvent(app, `${writer.key.slice(0, -1)}${writer.key.endsWith('A') ? 'B' : 'A'}`)).statusCode, 401, 'a wrong secret')
  t.equal((await postEvent(app, `alk_${'0'.repeat(24)}_${writer.key.slice(-43)}`)).statusCode, 401, 'an unknown id')
  t.equal((await postEvent(app, 'alk_not-a-key')).statusCode, 401, 'a malformed key')

  const created = await entries(app, tenant.reader, 'audit.admin.api_key_created')
  t.equal(created.length, 2)
  t.match(created.find((entry) => entry.event_specificdetails.api_key === writer.id), {
    username: `admin-${tenant.name}`,
    entitytype: 'api_key',
    event_specificdetails: { api_key: writer.id, name: 'billing-service', roles: ['writer'], expires_at: null }
  })
  t.notOk(JSON.stringify(created).includes(writer.key.slice(29)), 'the entry holds no secret')
})

t.test('admin is not a key role, a non-admin cannot create, and an expiry must be ahead', async (t) => {
  const app = await replica(t)
  const tenant = await tenantOn(app)
  const create = async (token: string, payload: Record<string, unknown>) =>
    await app.inject({ method: 'POST', url: '/tenant/api-keys', headers: bearer(token), payload })
  t.equal((await create(tenant.admin, { name: 'root', roles: ['admin'] })).statusCode, 400, 'admin is not grantable')
  t.equal((await create(tenant.admin, { name: 'none', roles: [] })).statusCode, 400, 'a key holds a role')
  t.equal((await create(tenant.writer, { name: 'mine', roles: ['writer'] })).statusCode, 403, 'a writer cannot create')
  t.equal((await create(tenant.reader, { name: 'mine', roles: ['reader'] })).statusCode, 403, 'a reader cannot create')
  const past = await create(tenant.admin, { name: 'late', roles: ['writer'], expires_at: new Date(Date.now() - 1000).toISOString() })
  t.equal(past.statusCode, 400)
  t.match(past.json().message, /expires_at/)
  t.equal((await app.inject({ method: 'GET', url: '/tenant/api-keys', headers: bearer(tenant.writer) })).statusCode, 403, 'nor list')
})

t.test('listing shows no key and no hash; the stored document holds only the hash (read through a second client)', async (t) => {
  const app = await replica(t)
  const tenant = await tenantOn(app)
  const key = await createKey(app, tenant.admin, { name: 'exporter', roles: ['reader', 'writer'] })
  t.equal((await postEvent(app, key.key)).statusCode, 201)
  const secret = key.key.slice(29)
  const hash = createHash('sha256').update(key.key).digest('hex')

  const listed = await app.inject({ method: 'GET', url: '/tenant/api-keys', headers: bearer(tenant.admin) })
  t.equal(listed.statusCode, 200)
  t.notOk(listed.body.includes(secret), 'no secret in the list')
  t.notOk(listed.body.includes(hash), 'no hash in the list')
  const [item] = listed.json().items
  t.same(Object.keys(item).sort(), ['created_at', 'created_by', 'expired', 'id', 'last_used_at', 'name', 'prefix', 'roles'])
  t.match(item, { id: key.id, name: 'exporter', created_by: `admin-${tenant.name}`, expired: false })
  t.ok(Date.now() - Date.parse(item.last_used_at) < 2 * 60000, 'its last use, to the minute')

  const client = new MongoClient(MONGODB_URL)
  t.teardown(() => client.close())
  const stored = await client.db(testDatabaseName).collection('api_keys').findOne({ _id: key.id as never })
  t.ok(stored !== null)
  const text = JSON.stringify(stored)
  t.notOk(text.includes(secret), 'the stored document holds no secret')
  t.notOk(text.includes(key.key), 'nor the key')
  t.equal(stored?.key_sha256, hash, 'only its SHA-256')
})

t.test('the last use is written at most once a minute per key, not once per request', async (t) => {
  const app = await replica(t)
  const tenant = await tenantOn(app)
  const key = await createKey(app, tenant.admin, { name: 'chatty', roles: ['writer'] })
  for (let i = 0; i < 10; i++) t.equal((await postEvent(app, key.key)).statusCode, 201)
  await until(async () => (await app.apiKeyStore.usage.collection.countDocuments({ key: key.id })) > 0, 'the use is recorded')
  t.equal(await app.apiKeyStore.usage.collection.countDocuments({ key: key.id }), 1, 'one record for ten requests')
})

t.test('revoked: refused within AUTH_CACHE_MS on this replica and on a second one; the revocation is in the log', async (t) => {
  const a = await replica(t)
  const b = await replica(t)
  const tenant = await tenantOn(a)
  const key = await createKey(a, tenant.admin, { name: 'sender', roles: ['writer'] })
  t.equal((await postEvent(a, key.key)).statusCode, 201, 'replica a accepts it')
  t.equal((await postEvent(b, key.key)).statusCode, 201, 'replica b accepts it (and caches it)')

  const revoked = await a.inject({ method: 'DELETE', url: `/tenant/api-keys/${key.id}`, headers: bearer(tenant.admin) })
  t.equal(revoked.statusCode, 204)
  await sleep(AUTH_CACHE_MS + 50)
  t.equal((await postEvent(a, key.key)).statusCode, 401, 'replica a refuses it')
  t.equal((await postEvent(b, key.key)).statusCode, 401, 'replica b refuses it')
  t.equal((await a.inject({ method: 'DELETE', url: `/tenant/api-keys/${key.id}`, headers: bearer(tenant.admin) })).statusCode, 404, 'gone')
  const listed = await a.inject({ method: 'GET', url: '/tenant/api-keys', headers: bearer(tenant.admin) })
  t.same(listed.json().items, [], 'no longer listed')
  const [entry, ...more] = await entries(a, tenant.reader, 'audit.admin.api_key_revoked')
  t.same(more, [])
  t.match(entry, { username: `admin-${tenant.name}`, event_specificdetails: { api_key: key.id, name: 'sender' } })
})

t.test("another tenant's admin cannot revoke a key, nor see it", async (t) => {
  const app = await replica(t)
  const owner = await tenantOn(app)
  const stranger = await tenantOn(app)
  const key = await createKey(app, owner.admin, { name: 'sender', roles: ['writer'] })
  const attempt = await app.inject({ method: 'DELETE', url: `/tenant/api-keys/${key.id}`, headers: bearer(stranger.admin) })
  t.equal(attempt.statusCode, 404, 'as absent as a missing key')
  const theirs = await app.inject({ method: 'GET', url: '/tenant/api-keys', headers: bearer(stranger.admin) })
  t.same(theirs.json().items, [], "the stranger's list is empty")
  await sleep(AUTH_CACHE_MS + 50)
  t.equal((await postEvent(app, key.key)).statusCode, 201, 'the key still works')
  t.same(await entries(app, stranger.reader, 'audit.admin.api_key_revoked'), [], 'nothing recorded in either log')
  t.same(await entries(app, owner.reader, 'audit.admin.api_key_revoked'), [])
})

t.test('an open stream authenticated by a key ends within AUTH_CACHE_MS of its revocation on another replica', async (t) => {
  const a = await replica(t)
  const b = await replica(t)
  const url = await b.listen({ port: 0, host: '127.0.0.1' })
  const tenant = await tenantOn(a)
  const key = await createKey(a, tenant.admin, { name: 'feeder', roles: ['reader'] })
  const stream = new SseClient(`${url}/events/stream`, bearer(key.key))
  t.teardown(() => stream.close())
  await stream.until(() => stream.status !== 0, 'the answer starts')
  t.equal(stream.status, 200)
  // alive past several rechecks: the key passes them while it is good
  t.equal((await postEvent(a, tenant.writer)).statusCode, 201)
  await stream.until(() => stream.events().length >= 1, 'an event arrives')
  await sleep(AUTH_CACHE_MS * 3)
  t.notOk(stream.ended, 'a good key keeps its stream')

  const revokedAt = Date.now()
  t.equal((await a.inject({ method: 'DELETE', url: `/tenant/api-keys/${key.id}`, headers: bearer(tenant.admin) })).statusCode, 204)
  await Promise.race([stream.finished(), sleep(WITHIN_MS)])
  const took = Date.now() - revokedAt
  t.ok(stream.ended, `the stream ended (${took} ms after the revocation; the design's bound is AUTH_CACHE_MS + 250 ms)`)
  t.match(JSON.parse(stream.messages.find((m) => m.event === 'end')?.data ?? '{}'), { reason: 'revoked' })
})

t.test('a stream opened with a key ends at its expiry (token_expired); one with a key that never expires does not', async (t) => {
  const app = await replica(t)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const tenant = await tenantOn(app)
  const expiresAt = new Date(Date.now() + 2000)
  const brief = await createKey(app, tenant.admin, { name: 'brief', roles: ['reader'], expires_at: expiresAt.toISOString() })
  const lasting = await createKey(app, tenant.admin, { name: 'lasting', roles: ['reader'] })
  const ending = new SseClient(`${url}/events/stream`, bearer(brief.key))
  const staying = new SseClient(`${url}/events/stream`, bearer(lasting.key))
  t.teardown(() => ending.close())
  t.teardown(() => staying.close())
  await Promise.race([ending.finished(), sleep(WITHIN_MS)])
  t.ok(ending.ended, 'the stream of the expiring key ended')
  t.ok(Date.now() >= expiresAt.getTime(), 'not before the expiry')
  t.match(JSON.parse(ending.messages.find((m) => m.event === 'end')?.data ?? '{}'), { reason: 'token_expired' })
  t.equal(staying.status, 200)
  t.notOk(staying.ended, 'the stream of a key without expiry goes on (no timer of 8,000 years firing at once)')
})

t.test('an expired key is refused, and its expiry recorded once, across replicas', async (t) => {
  const a = await replica(t)
  const b = await replica(t)
  const tenant = await tenantOn(a)
  const expiresAt = new Date(Date.now() + 1500)
  const key = await createKey(a, tenant.admin, { name: 'short-lived', roles: ['writer'], expires_at: expiresAt.toISOString() })
  t.equal(key.expires_at, expiresAt.toISOString())
  t.equal((await postEvent(a, key.key)).statusCode, 201, 'good before its expiry')
  await sleep(Math.max(0, expiresAt.getTime() - Date.now()) + 10)
  for (const app of [a, b, a, b]) t.equal((await postEvent(app, key.key)).statusCode, 401, 'refused after it')
  await until(async () => (await entries(a, tenant.reader, 'audit.admin.api_key_expired')).length > 0, 'the expiry is recorded')
  await a.apiKeys.recordExpiries()
  await b.apiKeys.recordExpiries()
  const recorded = await entries(a, tenant.reader, 'audit.admin.api_key_expired')
  t.equal(recorded.length, 1, 'once')
  t.match(recorded[0], { username: 'system', entitytype: 'api_key', event_specificdetails: { api_key: key.id, expires_at: expiresAt.toISOString() } })
  const listed = await a.inject({ method: 'GET', url: '/tenant/api-keys', headers: bearer(tenant.admin) })
  t.match(listed.json().items, [{ id: key.id, expired: true }], 'listed as expired until revoked')
})

t.test('a key that expires unused is recorded by the periodic check, once', async (t) => {
  const app = await replica(t)
  const tenant = await tenantOn(app)
  const key = await createKey(app, tenant.admin, { name: 'never-used', roles: ['reader'], expires_at: new Date(Date.now() + 300).toISOString() })
  await sleep(400)
  await app.apiKeys.recordExpiries()
  await app.apiKeys.recordExpiries()
  const recorded = await entries(app, tenant.reader, 'audit.admin.api_key_expired')
  t.equal(recorded.length, 1)
  t.match(recorded[0], { event_specificdetails: { api_key: key.id }, location: 'api key expiry check' })
})

t.test('rotation: two keys for one client work side by side; API_KEY_MAX_PER_TENANT caps a tenant (409 API_KEY_LIMIT)', async (t) => {
  const app = await replica(t, { API_KEY_MAX_PER_TENANT: 2 })
  const tenant = await tenantOn(app)
  const old = await createKey(app, tenant.admin, { name: 'billing', roles: ['writer'] })
  const next = await createKey(app, tenant.admin, { name: 'billing', roles: ['writer'] })
  t.equal((await postEvent(app, old.key)).statusCode, 201, 'the old key')
  t.equal((await postEvent(app, next.key)).statusCode, 201, 'the new key')
  const third = await app.inject({ method: 'POST', url: '/tenant/api-keys', headers: bearer(tenant.admin), payload: { name: 'more', roles: ['reader'] } })
  t.equal(third.statusCode, 409)
  t.equal(third.json().code, 'API_KEY_LIMIT')
  t.equal((await app.inject({ method: 'DELETE', url: `/tenant/api-keys/${old.id}`, headers: bearer(tenant.admin) })).statusCode, 204)
  await createKey(app, tenant.admin, { name: 'more', roles: ['reader'] })
  t.pass('a revoked key frees its place')
  const other = await tenantOn(app)
  await createKey(app, other.admin, { name: 'billing', roles: ['writer'] })
  t.pass("another tenant's cap is its own")
})

t.test('requests are rate-limited per key (API_KEY_RATE_LIMIT_MAX), not by address', async (t) => {
  const app = await replica(t, { API_KEY_RATE_LIMIT_MAX: 3, AUTH_CACHE_MS: 5000 })
  const tenant = await tenantOn(app)
  const first = await createKey(app, tenant.admin, { name: 'one', roles: ['writer'] })
  const second = await createKey(app, tenant.admin, { name: 'two', roles: ['writer'] })
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) statuses.push((await postEvent(app, first.key)).statusCode)
  t.ok(statuses.includes(429), `the key is limited: ${statuses.join(' ')}`)
  t.ok(statuses.filter((status) => status === 201).length <= 4, 'after its 3 a minute (its first request, before it is verified, counts by address)')
  const limited = await postEvent(app, first.key)
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { code: 'RATE_LIMITED', message: 'Too many requests with this API key; retry later' })
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  t.equal((await postEvent(app, second.key)).statusCode, 201, 'another key from the same address is not')
  t.equal((await postEvent(app, tenant.writer)).statusCode, 201, 'nor a token from the same address')
})
