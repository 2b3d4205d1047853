import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'

/**
 * Scoped view links (#30): an API key with a fixed filter (`scope`) sees only the events inside it, on every route,
 * enforced by the service whatever the request asks; it is read-only; creating it, using it and revoking it are
 * entries of the log; it fails after its expiry and after its revocation. A regression test of the enforcement:
 * each read below would show bob's events without it.
 */
const AUTH_CACHE_MS = 200

t.test('a view link reads only its scope, everywhere, and only reads', async (t) => {
  const app = await build(t, { config: { AUTH_CACHE_MS, AUDIT_ACCESS: true } })
  const admin = await userWithToken(app, { username: 'link-admin', roles: ['admin', 'writer', 'reader'], tenant: 'links' })
  const events = ['alice', 'bob', 'alice', 'bob', 'carol'].map((username, i) => sampleEvent({ username, description: `event ${i}` }))
  t.equal((await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(admin), payload: { events } })).statusCode, 200)
  const all = (await app.inject({ method: 'GET', url: '/events?event_type_not_prefix=audit.', headers: bearer(admin) })).json().items as
    Array<{ id: string, username: string }>
  const aliceIds = all.filter((event) => event.username === 'alice').map((event) => event.id)
  const bobId = all.find((event) => event.username === 'bob')?.id ?? ''

  const refused = await app.inject({
    method: 'POST', url: '/tenant/api-keys', headers: bearer(admin), payload: { name: 'x', roles: ['reader', 'writer'], scope: { field: 'username', value: 'alice' } }
  })
  t.equal(refused.statusCode, 400, 'a scoped key with more than the reader role is refused')
  t.match(refused.json().message, /read-only/)
  const created = await app.inject({
    method: 'POST',
    url: '/tenant/api-keys',
    headers: bearer(admin),
    payload: { name: 'alice-link', roles: ['reader'], scope: { field: 'username', value: 'alice' }, expires_at: new Date(Date.now() + 3_600_000).toISOString() }
  })
  t.equal(created.statusCode, 201, created.body)
  const { key, id, scope } = created.json() as { key: string, id: string, scope: unknown }
  t.same(scope, { field: 'username', value: 'alice' }, 'the scope is in the answer')
  const link = bearer(key)
  const get = async (url: string) => await app.inject({ method: 'GET', url, headers: link })

  const page = await get('/events?event_type_not_prefix=audit.')
  t.equal(page.statusCode, 200)
  t.same((page.json().items as Array<{ id: string }>).map((event) => event.id).sort(), [...aliceIds].sort(), "the search: alice's events only")
  t.same((await get('/events?username=alice&username=bob')).json().items.map((event: { username: string }) => event.username),
    ['alice', 'alice'], 'a request naming other values too still gets the scope only')
  const other = await get('/events?username=bob')
  t.equal(other.statusCode, 403, 'a search for another value of the field is refused')
  t.equal(other.json().code, 'AUTH_FORBIDDEN')
  t.equal((await get('/events?username_not=alice')).json().items.length, 0, 'a negation cannot widen it')
  const histogram = await get(`/events/histogram?timeStart=${new Date(Date.now() - 3_600_000).toISOString()}&timeEnd=${new Date(Date.now() + 60_000).toISOString()}&interval=1h&event_type_not_prefix=audit.`)
  t.equal(histogram.json().total, 2, 'the timeline counts the scope only')
  t.same((await get('/events/facets?field=username')).json().values, [{ value: 'alice', count: 2 }], 'the top values too')
  const exported = await get('/events/export?event_type_not_prefix=audit.')
  t.same(exported.body.trim().split('\n').map((line) => JSON.parse(line).username), ['alice', 'alice'], 'and the export')
  t.equal((await get(`/events/${aliceIds[0] ?? ''}`)).statusCode, 200, 'an event inside the scope')
  t.equal((await get(`/events/${bobId}`)).statusCode, 404, 'one outside it is absent')
  t.equal((await get(`/events/${bobId}/proof`)).statusCode, 404, 'and so is its proof')
  t.same((await get('/me')).json().scope, { field: 'username', value: 'alice' }, 'who it is, and its scope')
  t.equal((await get('/integrity/keys')).statusCode, 200, 'what Verify checks against')
  for (const [method, url] of [['GET', '/users'], ['GET', '/tenant/api-keys'], ['GET', '/integrity/completeness'], ['GET', '/tenant/retention']] as const) {
    t.equal((await app.inject({ method, url, headers: link })).statusCode, 403, `${method} ${url}: refused`)
  }
  t.equal((await app.inject({ method: 'POST', url: '/events', headers: link, payload: sampleEvent() })).statusCode, 403, 'it cannot write')

  // its creation and its use are in the log (the reads as audit.read.*, by the key)
  const log = async (eventType: string) => (await app.inject({ method: 'GET', url: `/events?event_type=${eventType}&limit=1000`, headers: bearer(admin) }))
    .json().items as Array<{ username: string, event_specificdetails: Record<string, unknown> }>
  t.same((await log('audit.admin.api_key_created')).map((entry) => entry.event_specificdetails.scope), [{ field: 'username', value: 'alice' }], 'created, with its scope')
  t.ok((await log('audit.read.events')).some((entry) => entry.username === `api-key:${id}`), 'used: its reads are entries')

  // expired: the stored expiry moved into the past
  await app.mongo.db?.collection('api_keys').updateOne({ _id: id } as never, { $set: { expires_at: new Date(Date.now() - 1000) } })
  await sleep(AUTH_CACHE_MS + 50)
  t.equal((await get('/events')).statusCode, 401, 'refused after its expiry')
  await app.mongo.db?.collection('api_keys').updateOne({ _id: id } as never, { $set: { expires_at: new Date(Date.now() + 3_600_000) } })
  await sleep(AUTH_CACHE_MS + 50)
  t.equal((await get('/events')).statusCode, 200, 'and back while in time')
  t.equal((await app.inject({ method: 'DELETE', url: `/tenant/api-keys/${id}`, headers: bearer(admin) })).statusCode, 204, 'revoked')
  await sleep(AUTH_CACHE_MS + 50)
  t.equal((await get('/events')).statusCode, 401, 'refused after its revocation')
  t.equal((await log('audit.admin.api_key_revoked')).length, 1, 'the revocation is in the log')
})
