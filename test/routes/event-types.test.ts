import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, bearer, sampleEvent, userWithToken } from '../helper.js'
import { canonical, leafHash } from '../../src/verifier/leaf.js'
import { hashLeaf } from '../../src/verifier/merkle.js'
import { parse } from 'csv-parse/sync'

/**
 * The event-type registry (issue #31): admins register a JSON Schema per type, versioned and never edited, each
 * change an entry of the log; ingest validates details against the current version (400, or a batch item error,
 * naming the path and the rule; nothing stored), stamps `schema_version` in clear in the leaf; strict mode refuses
 * unregistered types; hostile schemas are refused; old events and schema-less types are unaffected.
 */
const CACHE_MS = 200
const WITHIN_MS = 30000

interface Tenant { name: string, admin: string, writer: string, reader: string }
let tenants = 0
async function tenantOn (app: FastifyInstance): Promise<Tenant> {
  const name = `types-${++tenants}`
  return {
    name,
    admin: await userWithToken(app, { username: `admin-${name}`, roles: ['admin'], tenant: name }),
    writer: await userWithToken(app, { username: `writer-${name}`, roles: ['writer'], tenant: name }),
    reader: await userWithToken(app, { username: `reader-${name}`, roles: ['reader'], tenant: name })
  }
}

const billingSchema = {
  type: 'object',
  properties: { amount: { type: 'number', minimum: 0, maximum: 1e9 }, currency: { type: 'string', enum: ['EUR', 'USD'] } },
  required: ['amount', 'currency'],
  additionalProperties: false
}
const billingExample = { amount: 12.5, currency: 'EUR' }

async function putType (app: FastifyInstance, token: string, type: string, body: Record<string, unknown>) {
  return await app.inject({ method: 'PUT', url: `/tenant/event-types/${encodeURIComponent(type)}`, headers: bearer(token), payload: body })
}

async function postEvent (app: FastifyInstance, token: string, overrides: Record<string, unknown> = {}) {
  return await app.inject({ method: 'POST', url: '/events', headers: bearer(token), payload: sampleEvent(overrides) })
}

async function eventsOf (app: FastifyInstance, reader: string, eventType: string): Promise<Array<Record<string, any>>> {
  const response = await app.inject({ method: 'GET', url: `/events?event_type=${encodeURIComponent(eventType)}`, headers: bearer(reader) })
  if (response.statusCode !== 200) throw new Error(`GET /events answered ${response.statusCode}: ${response.body}`)
  return response.json().items
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('registry CRUD: admins write, every role reads, tenants are apart, versions never change', async (t) => {
  const app = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const a = await tenantOn(app)
  const b = await tenantOn(app)

  for (const token of [a.writer, a.reader]) {
    const refused = await putType(app, token, 'BillingCharged', { schema: billingSchema, description: 'A charge' })
    t.equal(refused.statusCode, 403, 'only an admin registers a type')
  }
  const first = await putType(app, a.admin, 'BillingCharged', { schema: billingSchema, description: 'A charge', example: billingExample })
  t.equal(first.statusCode, 201, first.body)
  t.match(first.json(), { event_type: 'BillingCharged', version: 1, deprecated: false, created_by: `admin-${a.name}`, example: billingExample })
  t.same(first.json().schema, billingSchema, 'the schema reads back exactly as sent')

  const again = await putType(app, a.admin, 'BillingCharged', { schema: billingSchema, description: 'A charge', example: billingExample })
  t.equal(again.statusCode, 200, 'the same content again changes nothing')
  t.equal(again.json().version, 1)

  const loosened = { ...billingSchema, required: ['amount'] }
  const second = await putType(app, a.admin, 'BillingCharged', { schema: loosened, description: 'A charge, currency optional', deprecated: true })
  t.equal(second.statusCode, 201, second.body)
  t.match(second.json(), { version: 2, deprecated: true, example: billingExample }, "the previous version's example is kept")

  for (const token of [a.reader, a.writer, a.admin]) {
    const list = await app.inject({ method: 'GET', url: '/tenant/event-types', headers: bearer(token) })
    t.equal(list.statusCode, 200)
    t.same(list.json().items.map((item: any) => [item.event_type, item.version, item.deprecated]), [['BillingCharged', 2, true]])
    t.equal(list.json().strict, false)
  }
  const current = await app.inject({ method: 'GET', url: '/tenant/event-types/BillingCharged', headers: bearer(a.reader) })
  t.equal(current.json().version, 2)
  t.same(current.json().schema, loosened)
  const v1 = await app.inject({ method: 'GET', url: '/tenant/event-types/BillingCharged/versions/1', headers: bearer(a.reader) })
  t.equal(v1.statusCode, 200)
  t.same(v1.json().schema, billingSchema, 'version 1 is kept as it was made')
  t.equal(v1.json().description, 'A charge')
  t.equal(v1.json().deprecated, false)
  const v3 = await app.inject({ method: 'GET', url: '/tenant/event-types/BillingCharged/versions/3', headers: bearer(a.reader) })
  t.equal(v3.statusCode, 404)

  // another tenant sees nothing of it, and registers its own under the same name
  const elsewhere = await app.inject({ method: 'GET', url: '/tenant/event-types/BillingCharged', headers: bearer(b.reader) })
  t.equal(elsewhere.statusCode, 404)
  t.same((await app.inject({ method: 'GET', url: '/tenant/event-types', headers: bearer(b.reader) })).json().items, [])
  t.equal((await putType(app, b.admin, 'BillingCharged', { schema: { type: 'object' }, description: 'Theirs' })).json().version, 1)
  t.equal((await postEvent(app, b.writer, { event_type: 'BillingCharged', event_specificdetails: { amount: 'any' } })).statusCode, 201,
    "tenant b's own schema applies to its events, not tenant a's")

  // every change is an entry of the log, naming the version; the answer names its seq
  const entries = await eventsOf(app, a.reader, 'audit.admin.event_type_changed')
  t.same(entries.map((entry) => entry.event_specificdetails.version).sort(), [1, 2])
  const entryOfV2 = entries.find((entry) => entry.event_specificdetails.version === 2)
  t.equal(entryOfV2?.seq, second.json().log_seq)
  t.match(entryOfV2?.event_specificdetails, { event_type: 'BillingCharged', previous_version: 1, deprecated: true, schema_sha256: /^[0-9a-f]{64}$/ })

  // a version made but never made current (its writer died before its log entry): the next change skips its number
  await app.eventTypes.store.addVersion({
    tenant: a.name,
    event_type: 'BillingCharged',
    version: 3,
    schema_json: '{}',
    description: 'orphan',
    deprecated: false,
    created_at: new Date(),
    created_by: 'nobody'
  })
  const third = await putType(app, a.admin, 'BillingCharged', { schema: loosened, description: 'After an orphan version' })
  t.equal(third.statusCode, 201, third.body)
  t.equal(third.json().version, 4, 'the taken number is skipped')
  t.equal((await app.inject({ method: 'GET', url: '/tenant/event-types/BillingCharged', headers: bearer(a.reader) })).json().version, 4)

  const reserved = await putType(app, a.admin, 'audit.admin.user_created', { schema: { type: 'object' }, description: 'x' })
  t.equal(reserved.statusCode, 400)
  t.match(reserved.json().message, /params\/event_type must not start with "audit\."/)
})

t.test('ingest validates details against the current version: 400 naming path and rule, nothing stored or stripped', async (t) => {
  const app = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const a = await tenantOn(app)
  t.equal((await putType(app, a.admin, 'BillingCharged', { schema: billingSchema, description: 'A charge', example: billingExample })).statusCode, 201)

  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ amount: '12.5', currency: 'EUR' }, /^body\/event_specificdetails\/amount must be number \(rule type of BillingCharged v1\)$/],
    [{ ammount: 12.5, amount: 1, currency: 'EUR' }, /^body\/event_specificdetails must NOT have additional property 'ammount' \(rule additionalProperties of BillingCharged v1\)$/],
    [{ amount: 1, currency: 'GBP' }, /^body\/event_specificdetails\/currency must be one of: EUR, USD \(rule enum/],
    [{ currency: 'EUR' }, /^body\/event_specificdetails must have required property 'amount' \(rule required/]
  ]
  for (const [details, message] of cases) {
    const refused = await postEvent(app, a.writer, { event_type: 'BillingCharged', event_specificdetails: details })
    t.equal(refused.statusCode, 400, JSON.stringify(details))
    t.match(refused.json(), { code: 'VALIDATION_FAILED', message })
  }
  const noDetails = await postEvent(app, a.writer, { event_type: 'BillingCharged', event_specificdetails: undefined })
  t.equal(noDetails.statusCode, 400, 'an event without details is checked as {}: the required fields are missing')
  t.same(await eventsOf(app, a.reader, 'BillingCharged'), [], 'nothing refused was stored')

  const accepted = await postEvent(app, a.writer, { event_type: 'BillingCharged', event_specificdetails: billingExample })
  t.equal(accepted.statusCode, 201)
  const [stored] = await eventsOf(app, a.reader, 'BillingCharged')
  t.equal(stored?.schema_version, 1)
  t.same(stored?.event_specificdetails, billingExample, 'stored exactly as sent')
  t.equal(stored?.hash, accepted.json().hash)
  t.equal(leafHash(stored as Record<string, unknown>), stored?.hash, 'the leaf, schema_version included, recomputes from the fields')

  // the next version applies to the next event (this replica dropped its cache on the change)
  await putType(app, a.admin, 'BillingCharged', { schema: { ...billingSchema, required: ['amount'] }, description: 'v2' })
  const v2 = await postEvent(app, a.writer, { event_type: 'BillingCharged', event_specificdetails: { amount: 3 } })
  t.equal(v2.statusCode, 201, v2.body)
  const byId = await app.inject({ method: 'GET', url: `/events/${v2.json().id as string}`, headers: bearer(a.reader) })
  t.equal(byId.json().schema_version, 2)
  const csv = await app.inject({ method: 'GET', url: '/events/export?format=csv&event_type=BillingCharged&order=asc', headers: bearer(a.reader) })
  const [header, ...rows] = parse(csv.body) as string[][]
  t.same(rows.map((row) => row[header!.indexOf('schema_version')]), ['1', '2'], 'the CSV export has each event\'s schema_version')
})

t.test('a batch answers each refused item with its own error and stores the others', async (t) => {
  const app = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const a = await tenantOn(app)
  await putType(app, a.admin, 'BillingCharged', { schema: billingSchema, description: 'A charge', example: billingExample })
  const events = [
    sampleEvent({ event_type: 'BillingCharged', event_specificdetails: billingExample }),
    sampleEvent({ event_type: 'BillingCharged', event_specificdetails: { amount: -1, currency: 'EUR' } }),
    sampleEvent(),
    sampleEvent({ event_type: 'BillingCharged', event_specificdetails: { amount: 2, currency: 'USD', note: 'x' } })
  ]
  const response = await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(a.writer), payload: { events } })
  t.equal(response.statusCode, 200, response.body)
  const items = response.json().items
  t.same(items.map((item: any) => item.status), ['created', 'error', 'created', 'error'])
  t.match(items[1].error, /^body\/events\/1\/event_specificdetails\/amount must be >= 0 \(rule minimum of BillingCharged v1\)$/)
  t.match(items[3].error, /^body\/events\/3\/event_specificdetails must NOT have additional property 'note'/)
  t.same((await eventsOf(app, a.reader, 'BillingCharged')).map((event) => event.schema_version), [1])
  const [seed] = await eventsOf(app, a.reader, 'AccountCreated')
  t.equal(seed?.schema_version, undefined, 'a type without a schema is stored without a version')
})

t.test("a long failure (an enum of many values) is cut to a batch item's maxLength, keeping its rule", async (t) => {
  const app = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const a = await tenantOn(app)
  const plans = Array.from({ length: 200 }, (_, i) => `subscription-plan-${i}`)
  const schema = { type: 'object', properties: { plan: { type: 'string', enum: plans } }, required: ['plan'] }
  t.equal((await putType(app, a.admin, 'PlanChosen', { schema, description: 'A plan', example: { plan: plans[0] } })).statusCode, 201)
  const events = [sampleEvent({ event_type: 'PlanChosen', event_specificdetails: { plan: 'none of them' } })]
  const response = await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(a.writer), payload: { events } })
  t.equal(response.statusCode, 200, response.body)
  const [item] = response.json().items
  t.equal(item.status, 'error')
  t.ok(item.error.length <= 1024, `within the documented maxLength of 1024 (${String(item.error.length)})`)
  t.match(item.error, /^body\/events\/0\/event_specificdetails\/plan must be one of: subscription-plan-0, .*… \(rule enum of PlanChosen v1\)$/)
})

t.test('strict mode refuses unregistered types, single and batch; turning it on and off is logged', async (t) => {
  const app = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const a = await tenantOn(app)
  await putType(app, a.admin, 'BillingCharged', { schema: billingSchema, description: 'A charge', example: billingExample })
  const byWriter = await app.inject({ method: 'PUT', url: '/tenant/event-type-policy', headers: bearer(a.writer), payload: { strict: true } })
  t.equal(byWriter.statusCode, 403)
  const on = await app.inject({ method: 'PUT', url: '/tenant/event-type-policy', headers: bearer(a.admin), payload: { strict: true } })
  t.same(on.json(), { strict: true })
  t.same((await app.inject({ method: 'GET', url: '/tenant/event-type-policy', headers: bearer(a.reader) })).json(), { strict: true })

  const unknown = await postEvent(app, a.writer, { event_type: 'Unregistered' })
  t.equal(unknown.statusCode, 400)
  t.match(unknown.json().message, /^body\/event_type 'Unregistered' is not a registered event type.*strict mode/)
  t.equal((await postEvent(app, a.writer, { event_type: 'BillingCharged', event_specificdetails: billingExample })).statusCode, 201)
  const batch = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(a.writer),
    payload: { events: [sampleEvent({ event_type: 'BillingCharged', event_specificdetails: billingExample }), sampleEvent()] }
  })
  t.same(batch.json().items.map((item: any) => item.status), ['created', 'error'])
  t.match(batch.json().items[1].error, /^body\/events\/1\/event_type 'AccountCreated' is not a registered event type/)

  await app.inject({ method: 'PUT', url: '/tenant/event-type-policy', headers: bearer(a.admin), payload: { strict: false } })
  t.equal((await postEvent(app, a.writer, { event_type: 'Unregistered' })).statusCode, 201, 'off again: accepted')
  const entries = await eventsOf(app, a.reader, 'audit.admin.event_type_policy_changed')
  t.same(entries.map((entry) => entry.event_specificdetails.strict).sort(), [false, true])
})

t.test('hostile and invalid schemas are refused with the part at fault, and nothing is registered', async (t) => {
  const app = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const a = await tenantOn(app)
  let deep: Record<string, unknown> = { type: 'object' }
  for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { x: deep } }
  const wide = { type: 'object', properties: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`field_${i}`, { type: 'string' }])) }
  const cases: Array<[string, unknown, RegExp]> = [
    ['remote $ref', { $ref: 'https://example.com/schema.json' }, /schema\/\$ref must be a local reference/],
    ['remote $ref deep inside', { type: 'object', properties: { a: { $ref: 'other.json#/x' } } }, /schema\/properties\/a\/\$ref must be a local reference/],
    ['$id', { $id: 'https://example.com/mine', type: 'object' }, /schema\/\$id is not allowed/],
    ['another draft', { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' }, /schema\/\$schema must be https:\/\/json-schema.org\/draft\/2020-12\/schema/],
    ['nested quantifiers', { type: 'object', properties: { a: { type: 'string', pattern: '^(a+)+$' } } }, /schema\/properties\/a\/pattern must not nest quantifiers/],
    ['backreference', { type: 'object', properties: { a: { type: 'string', pattern: '(a)\\1' } } }, /pattern must not use backreferences or lookarounds/],
    ['lookahead', { type: 'object', properties: { a: { type: 'string', pattern: '^(?=a)a' } } }, /pattern must not use backreferences or lookarounds/],
    ['giant pattern', { type: 'object', properties: { a: { type: 'string', pattern: 'a'.repeat(300) } } }, /pattern is longer than 256 characters/],
    ['pathological patternProperties', { type: 'object', patternProperties: { '^(x*)*$': { type: 'string' } } }, /schema\/patternProperties\/\^\(x\*\)\*\$ must not nest quantifiers/],
    ['too deep', deep, /schema is nested more than 32 levels deep/],
    ['too large', wide, /schema is \d+ bytes as JSON, more than 32768/],
    ['unbounded uniqueItems', { type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } }, /uniqueItems needs maxItems of at most 256/],
    ['unknown keyword (strict)', { type: 'object', requierd: ['a'] }, /schema is not a valid draft 2020-12 schema: strict mode: unknown keyword: "requierd"/],
    ['unknown format (strict)', { type: 'object', properties: { a: { type: 'string', format: 'colour' } } }, /schema is not a valid draft 2020-12 schema: unknown format "colour"/],
    ['unresolved local $ref', { $ref: '#/$defs/missing' }, /schema is not a valid draft 2020-12 schema/],
    ['not an object schema', true, /body\/schema must be object/]
  ]
  for (const [name, schema, message] of cases) {
    const response = await putType(app, a.admin, 'Hostile', { schema, description: name })
    t.equal(response.statusCode, 400, `${name}: ${response.body}`)
    t.match(response.json().message, message, name)
  }
  t.equal((await app.inject({ method: 'GET', url: '/tenant/event-types/Hostile', headers: bearer(a.reader) })).statusCode, 404)
  t.same(await eventsOf(app, a.reader, 'audit.admin.event_type_changed'), [], 'nothing refused is in the log')

  const local = { type: 'object', $defs: { money: { type: 'number', minimum: 0, maximum: 100 } }, properties: { amount: { $ref: '#/$defs/money' } } }
  const fine = await putType(app, a.admin, 'Hostile', { schema: local, description: 'local refs are fine', example: { amount: 5 } })
  t.equal(fine.statusCode, 201, fine.body)
  const refusedByRef = await postEvent(app, a.writer, { event_type: 'Hostile', event_specificdetails: { amount: 500 } })
  t.match(refusedByRef.json().message, /^body\/event_specificdetails\/amount must be <= 100 \(rule maximum of Hostile v1\)$/)
})

t.test('compatibility: schema-less types, events stored before a schema, and a change refusing its own example', async (t) => {
  const app = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS, CHECKPOINT_INTERVAL_MS: 100, SEQUENCE_FOLD_MS: 50 } })
  const a = await tenantOn(app)
  const seed = await postEvent(app, a.writer)
  t.equal(seed.statusCode, 201, "the seed's AccountCreated is accepted while no schema is registered")

  const accountSchema = {
    type: 'object',
    properties: { account_number: { type: 'string', pattern: '^[0-9]{5}$' }, email: { type: 'string', format: 'email' } },
    required: ['account_number', 'email'],
    additionalProperties: false
  }
  const ownExample = await putType(app, a.admin, 'AccountCreated', {
    schema: accountSchema,
    description: 'x',
    example: { account_number: 'abc', email: 'john@gmail.com' }
  })
  t.equal(ownExample.statusCode, 400, 'a schema refusing its own example is refused')
  t.match(ownExample.json().message, /^body\/example\/account_number must match pattern/)
  const registered = await putType(app, a.admin, 'AccountCreated', {
    schema: accountSchema,
    description: 'A customer account was created',
    example: { account_number: '94859', email: 'john@gmail.com' }
  })
  t.equal(registered.statusCode, 201)
  const tightened = await putType(app, a.admin, 'AccountCreated', {
    schema: { ...accountSchema, properties: { ...accountSchema.properties, account_number: { type: 'integer', minimum: 0, maximum: 99999 } } },
    description: 'Account numbers as integers'
  })
  t.equal(tightened.statusCode, 400, "a change refusing the previous version's example (none sent) is refused")
  t.match(tightened.json().message, /refuses the previous version's example: example\/account_number must be integer/)
  t.equal((await app.inject({ method: 'GET', url: '/tenant/event-types/AccountCreated', headers: bearer(a.reader) })).json().version, 1)

  // the event stored before the schema: unchanged, no version, and its proof's leaf is the one it always had
  const [before] = (await eventsOf(app, a.reader, 'AccountCreated')).filter((event) => event.id === seed.json().id)
  t.equal(before?.schema_version, undefined)
  t.equal(before?.hash, seed.json().hash)
  const after = await postEvent(app, a.writer)
  t.equal(after.statusCode, 201, 'the brief sample passes the registered schema')

  for (const [answer, version] of [[seed, undefined], [after, 1]] as const) {
    const { id, seq } = answer.json()
    const deadline = Date.now() + WITHIN_MS
    let proof = await app.inject({ method: 'GET', url: `/events/${id as string}/proof`, headers: bearer(a.reader) })
    while ((proof.statusCode !== 200 || proof.json().tree_size < seq) && Date.now() < deadline) {
      await sleep(100)
      proof = await app.inject({ method: 'GET', url: `/events/${id as string}/proof`, headers: bearer(a.reader) })
    }
    t.equal(proof.statusCode, 200, proof.body)
    const leaf = proof.json().leaf
    t.equal(leaf.schema_version, version, `the proof's leaf shows schema_version ${String(version)}`)
    t.equal(hashLeaf(Buffer.from(canonical(leaf))).toString('hex'), proof.json().leaf_hash, 'the leaf shown is the leaf proven')
    t.equal(proof.json().leaf_hash, answer.json().hash)
  }
})

t.test('a change reaches another replica within EVENT_TYPE_CACHE_MS', async (t) => {
  const first = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const second = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const a = await tenantOn(first)
  const bad = { event_type: 'BillingCharged', event_specificdetails: { amount: 'twelve' } }
  t.equal((await postEvent(second, a.writer, bad)).statusCode, 201, 'no schema yet: accepted, and the registry cached')
  await putType(first, a.admin, 'BillingCharged', { schema: billingSchema, description: 'A charge', example: billingExample })
  const deadline = Date.now() + WITHIN_MS
  let status = 201
  while (status !== 400 && Date.now() < deadline) {
    await sleep(CACHE_MS / 4)
    status = (await postEvent(second, a.writer, bad)).statusCode
  }
  t.equal(status, 400, 'the other replica refuses it once its cache expired')
})

t.test("GET .../openapi gives a generator the type's details schema and an example event", async (t) => {
  const app = await build(t, { config: { EVENT_TYPE_CACHE_MS: CACHE_MS } })
  const a = await tenantOn(app)
  const schema = { type: 'object', $defs: { money: { type: 'number', minimum: 0, maximum: 1e9 } }, properties: { amount: { $ref: '#/$defs/money' } } }
  await putType(app, a.admin, 'Billing Charged', { schema, description: 'A charge', example: { amount: 1 } })
  const response = await app.inject({ method: 'GET', url: '/tenant/event-types/Billing%20Charged/openapi', headers: bearer(a.reader) })
  t.equal(response.statusCode, 200, response.body)
  const doc = response.json()
  t.equal(doc.openapi, '3.1.0')
  const details = doc.components.schemas.Billing_ChargedDetails
  t.equal(details.properties.amount.$ref, '#/components/schemas/Billing_ChargedDetails/$defs/money', 'local refs point inside the component')
  const example = doc.components.examples.Billing_ChargedEvent.value
  t.match(example, { event_type: 'Billing Charged', event_specificdetails: { amount: 1 } })
  t.equal((await app.inject({ method: 'POST', url: '/events', headers: bearer(a.writer), payload: example })).statusCode, 201, 'the example event is accepted')
  t.equal((await app.inject({ method: 'GET', url: '/tenant/event-types/Nope/openapi', headers: bearer(a.reader) })).statusCode, 404)
})
