import assert from 'node:assert/strict'
import createClient from 'openapi-fetch'
import type { components, paths } from '../../.sdk/openapi-fetch/schema.js'

/**
 * The TypeScript client a client team would generate (openapi-typescript + openapi-fetch), used as
 * they would use it: no casts, and `tsc --strict` over this file and the generated types
 * (sdk-check/tsconfig.json). Run by scripts/sdk-check.sh against the live service:
 *   node --import tsx sdk-check/openapi-fetch/roundtrip.ts <base url> <api key>
 */
type Event = components['schemas']['Event']
type EventInput = components['schemas']['EventInput']

const [baseUrl, apiKey] = process.argv.slice(2)
if (baseUrl === undefined || apiKey === undefined) {
  throw new Error('usage: roundtrip.ts <base url> <api key>')
}

// an API key, as a sending system authenticates: the bearer token of every request
const client = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${apiKey}` } })
const run = `ts-${Date.now()}-${process.pid}`
const eventType = `SdkCheckTs${Date.now()}`
const event = (i: number): EventInput => ({
  event_type: eventType,
  username: 'john_mayor',
  entitytype: 'customer_account',
  ip: '192.168.0.1',
  location: 'New York',
  description: `SDK round trip ${i}`,
  event_id: `${run}-${i}`,
  event_specificdetails: { account_number: run, card: { brand: i === 0 ? 'visa' : 'mastercard' } }
})

// create one event, then a batch of two: three of one type, so that a page of two has a next one
const created: string[] = []
const res = await client.POST('/events', { body: event(0) })
assert.equal(res.response.status, 201, `createEvent answers 201 (${JSON.stringify(res.error)})`)
assert.ok(res.data !== undefined)
assert.equal(res.data.status, 'created')
created.push(res.data.id)
const batch = await client.POST('/events/batch', { body: { events: [event(1), event(2)] } })
assert.equal(batch.response.status, 200, `createEventBatch answers 200 (${JSON.stringify(batch.error)})`)
assert.deepEqual(batch.data?.items.map((item) => item.status), ['created', 'created'])
for (const item of batch.data?.items ?? []) {
  assert.ok(typeof item.id === 'string', 'a created batch item has its id')
  created.push(item.id)
}
const again = await client.POST('/events', { body: { ...event(0), description: 'repeat' } })
assert.equal(again.response.status, 200, 'a repeated event_id answers 200')
assert.equal(again.data?.status, 'duplicate')
assert.equal(again.data?.id, created[0])

// list with an event_type filter, one filter and nothing else (limit and order have defaults)
const all = await client.GET('/events', { params: { query: { event_type: [eventType] } } })
assert.equal(all.response.status, 200)
assert.deepEqual(
  all.data?.items.map((event: Event) => event.id).sort(),
  [...created].sort(),
  'listEvents by event_type finds exactly the three'
)

// follow next_cursor to a second page (the batch's two may share a timestamp: pages hold each event once, in some order)
const first = await client.GET('/events', { params: { query: { event_type: [eventType], limit: 2, order: 'asc' } } })
assert.equal(first.response.status, 200)
assert.equal(first.data?.items.length, 2, 'first page: two')
assert.equal(first.data?.items[0]?.id, created[0], 'the single event, written first, opens it')
const cursor = first.data?.next_cursor
assert.ok(typeof cursor === 'string', 'the first page has a next_cursor')
const second = await client.GET('/events', { params: { query: { event_type: [eventType], limit: 2, order: 'asc', cursor } } })
assert.equal(second.response.status, 200)
assert.equal(second.data?.items.length, 1, 'second page: the third')
assert.deepEqual(
  [...(first.data?.items ?? []), ...(second.data?.items ?? [])].map((event) => event.id).sort(),
  [...created].sort(),
  'the two pages hold each event once'
)
assert.equal(second.data?.next_cursor, null, 'and no page after it')

// list with a details filter: a deepObject parameter, a dotted path in the key
const byDetails = await client.GET('/events', { params: { query: { details: { account_number: run, 'card.brand': 'visa' } } } })
assert.equal(byDetails.response.status, 200, `details filter answers 200 (${JSON.stringify(byDetails.error)})`)
assert.deepEqual(
  byDetails.data?.items.map((event) => event.id),
  [created[0]],
  'details[account_number] and details[card.brand] find the visa one'
)
const byExists = await client.GET('/events', { params: { query: { event_type: [eventType], details: { 'card.brand:exists': 'true' } } } })
assert.equal(byExists.data?.items.length, 3, 'details[card.brand:exists]=true finds all three')

// one event by id
const one = await client.GET('/events/{id}', { params: { path: { id: created[1] ?? '' } } })
assert.equal(one.response.status, 200)
assert.equal(one.data?.description, 'SDK round trip 1')
assert.deepEqual(one.data?.event_specificdetails, { account_number: run, card: { brand: 'mastercard' } })
const missing = await client.GET('/events/{id}', { params: { path: { id: '0'.repeat(24) } } })
assert.equal(missing.response.status, 404)
assert.equal(missing.error?.code, 'NOT_FOUND', 'errors are typed, with the documented codes')

// export as CSV
const csv = await client.GET('/events/export', { params: { query: { event_type: [eventType], format: 'csv' } }, parseAs: 'text' })
assert.equal(csv.response.status, 200)
assert.match(csv.response.headers.get('content-type') ?? '', /^text\/csv/)
const rows = (csv.data ?? '').trim().split('\r\n')
assert.equal(rows.length, 4, 'a header row and three events')
assert.match(rows[0] ?? '', /^id,seq,timestamp,tenant,submitted_by,event_type,/)
for (const id of created) assert.ok(rows.some((row) => row.startsWith(`${id},`)), `the export has ${id}`)

// a validation error, as a client sees it
const invalid = await client.POST('/events', {
  body: { event_type: eventType, username: 'x', entitytype: 'x', ip: 'not-an-ip', location: 'x', description: 'x' }
})
assert.equal(invalid.response.status, 400)
assert.equal(invalid.error?.code, 'VALIDATION_FAILED')
assert.equal(invalid.error?.message, 'body/ip must be an IPv4 or IPv6 address')

process.stdout.write(
  'sdk-check: openapi-fetch round trip passed (API key, createEvent, createEventBatch, listEvents by event_type and details, next_cursor, getEvent, exportEvents csv)\n'
)
