import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, bearer, userWithToken } from '../helper.js'
import { BriefSampleEvent } from '../../src/schemas/event.js'
import { SWAGGER_EXAMPLES_MAX } from '../../src/plugins/app/event-types/swagger-examples.js'

/**
 * Swagger UI's document (/docs/json) offers the caller's event types as examples of POST /events and POST
 * /events/batch (issue #31): with a credential of a tenant user, that tenant's types that have an example, never
 * another tenant's; without one, with a bad one, a monitor's or a view link's, the static document, the one
 * /openapi.json serves and openapi/openapi.json holds.
 */
const billingSchema = {
  type: 'object',
  properties: { amount: { type: 'number' }, currency: { type: 'string', enum: ['EUR', 'USD'] } },
  required: ['amount', 'currency'],
  additionalProperties: false
}
const billingExample = { amount: 12.5, currency: 'EUR' }

async function putType (app: FastifyInstance, token: string, type: string, body: Record<string, unknown>): Promise<void> {
  const response = await app.inject({ method: 'PUT', url: `/tenant/event-types/${encodeURIComponent(type)}`, headers: bearer(token), payload: body })
  if (response.statusCode !== 201) throw new Error(`PUT ${type} answered ${response.statusCode}: ${response.body}`)
}

async function apiKey (app: FastifyInstance, admin: string, payload: Record<string, unknown>): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/tenant/api-keys', headers: bearer(admin), payload })
  if (response.statusCode !== 201) throw new Error(`POST /tenant/api-keys answered ${response.statusCode}: ${response.body}`)
  return response.json().key
}

function bodyOf (document: any, path: string): Record<string, any> {
  return document.paths[path].post.requestBody.content['application/json']
}

t.test("Swagger UI's document holds the caller's tenant's type examples, and only the caller's", async (t) => {
  const app = await build(t)
  const adminA = await userWithToken(app, { username: 'admin-a', roles: ['admin'], tenant: 'swagger-a' })
  const readerA = await userWithToken(app, { username: 'reader-a', roles: ['reader'], tenant: 'swagger-a' })
  const writerA = await userWithToken(app, { username: 'writer-a', roles: ['writer'], tenant: 'swagger-a' })
  const adminB = await userWithToken(app, { username: 'admin-b', roles: ['admin'], tenant: 'swagger-b' })
  await putType(app, adminA, 'BillingCharged', { schema: billingSchema, description: 'A charge on a card', example: billingExample })
  await putType(app, adminA, 'NoExample', { schema: { type: 'object' }, description: 'A type without an example' })
  await putType(app, adminA, 'OldType', { schema: { type: 'object' }, description: 'Deprecated', example: { old: true }, deprecated: true })
  await putType(app, adminB, 'OrderShipped', { schema: { type: 'object' }, description: "B's type", example: { order: 'b-1' } })

  const staticDocument = app.swagger() as Record<string, any>

  const tailored = await app.inject({ method: 'GET', url: '/docs/json', headers: bearer(readerA) })
  t.equal(tailored.statusCode, 200)
  t.equal(tailored.headers['cache-control'], 'no-store', 'a tailored document is not stored')
  t.match(tailored.headers.vary, /authorization/i, 'the answer depends on the credential')
  const document = tailored.json()
  const single = bodyOf(document, '/events')
  t.same(Object.keys(single.examples), ['brief-sample', 'type:BillingCharged'], "the brief's sample first, then A's type with an example (not deprecated)")
  t.same(single.examples['brief-sample'].value, BriefSampleEvent, "the brief's sample is still offered, and filled in first")
  t.same(single.examples['type:BillingCharged'], {
    summary: 'BillingCharged: A charge on a card',
    value: { ...BriefSampleEvent, event_type: 'BillingCharged', event_specificdetails: billingExample }
  }, "an event of the type, its details the type's example")
  t.notMatch(tailored.body, /OrderShipped|b-1/, "nothing of another tenant's types")
  t.same(bodyOf(document, '/events/batch').examples['your-types'].value, { events: [single.examples['type:BillingCharged'].value] }, 'the batch: one event per type')
  t.same(document.components, staticDocument.components, 'only the two bodies change')
  t.same({ ...document, paths: {} }, { ...staticDocument, paths: {} })

  const posted = await app.inject({ method: 'POST', url: '/events', headers: bearer(writerA), payload: single.examples['type:BillingCharged'].value })
  t.equal(posted.statusCode, 201, `the offered example is an event the type accepts (${posted.body.slice(0, 200)})`)

  const ofB = (await app.inject({ method: 'GET', url: '/docs/json', headers: bearer(adminB) })).json()
  t.same(Object.keys(bodyOf(ofB, '/events').examples), ['brief-sample', 'type:OrderShipped'], "B's admin sees B's type, not A's")

  const yaml = await app.inject({ method: 'GET', url: '/docs/yaml', headers: bearer(readerA) })
  t.match(yaml.body, /type:BillingCharged/, 'the YAML form too')

  const writerKey = await apiKey(app, adminA, { name: 'sender', roles: ['writer'] })
  const byKey = (await app.inject({ method: 'GET', url: '/docs/json', headers: bearer(writerKey) })).json()
  t.ok(bodyOf(byKey, '/events').examples['type:BillingCharged'] !== undefined, 'an API key of the tenant gets them too')

  const monitorKey = await apiKey(app, adminA, { name: 'monitor', roles: ['monitor'] })
  const viewLink = await apiKey(app, adminA, { name: 'link', roles: ['reader'], scope: { field: 'username', value: 'alice' } })
  const cases: Array<[string, Record<string, string>]> = [
    ['no credential', {}],
    ['a bad token', bearer('eyJhbGciOiJIUzI1NiJ9.e30.bad')],
    ['an unknown API key', bearer(`alk_${'0'.repeat(24)}_${'x'.repeat(43)}`)],
    ["a monitor's key, which may not read the types", bearer(monitorKey)],
    ['a view link, which reads its events and nothing else', bearer(viewLink)]
  ]
  for (const [what, headers] of cases) {
    const response = await app.inject({ method: 'GET', url: '/docs/json', headers })
    t.equal(response.statusCode, 200, `${what}: 200`)
    t.same(response.json(), staticDocument, `${what}: the static document`)
    t.not(response.headers['cache-control'], 'no-store', `${what}: cacheable as before`)
  }

  const published = await app.inject({ method: 'GET', url: '/openapi.json', headers: bearer(readerA) })
  t.same(published.json(), staticDocument, '/openapi.json stays the static document, whoever asks')
  t.notOk('examples' in bodyOf(app.swagger(), '/events'), "and the app's document was not changed by a tailored answer")
})

t.test('at most SWAGGER_EXAMPLES_MAX types are offered, by name; a tenant without examples gets the static document', async (t) => {
  const app = await build(t)
  const admin = await userWithToken(app, { username: 'admin-many', roles: ['admin'], tenant: 'swagger-many' })
  const none = await userWithToken(app, { username: 'reader-none', roles: ['reader'], tenant: 'swagger-none' })
  t.same((await app.inject({ method: 'GET', url: '/docs/json', headers: bearer(none) })).json(), app.swagger(), 'no types: the static document')

  const names = Array.from({ length: SWAGGER_EXAMPLES_MAX + 2 }, (_, i) => `Type${String(i).padStart(2, '0')}`)
  for (const name of names) await putType(app, admin, name, { schema: { type: 'object' }, description: name, example: { n: name } })
  const document = (await app.inject({ method: 'GET', url: '/docs/json', headers: bearer(admin) })).json()
  const offered = Object.keys(bodyOf(document, '/events').examples).filter((key) => key.startsWith('type:'))
  t.same(offered, names.slice(0, SWAGGER_EXAMPLES_MAX).map((name) => `type:${name}`), `the first ${SWAGGER_EXAMPLES_MAX} by name`)
  t.equal(bodyOf(document, '/events/batch').examples['your-types'].value.events.length, SWAGGER_EXAMPLES_MAX)
})
