import assert from 'node:assert/strict'
import createClient from 'openapi-fetch'
import type { components, paths } from '../.sdk/ts/schema.js'

/**
 * The TypeScript client a client team would generate (openapi-typescript + openapi-fetch), used as
 * they would use it: no casts, and `tsc --strict` over this file and the generated types
 * (sdk-check/tsconfig.json). Run by scripts/sdk-check.sh against the live service:
 *   node --import tsx sdk-check/roundtrip.ts <base url> <username> <password>
 */
type Event = components['schemas']['Event']

const [baseUrl, username, password] = process.argv.slice(2)
if (baseUrl === undefined || username === undefined || password === undefined) {
  throw new Error('usage: roundtrip.ts <base url> <username> <password>')
}

const client = createClient<paths>({ baseUrl })
const run = `ts-${Date.now()}-${process.pid}`
const eventType = `SdkCheckTs${Date.now()}`

// log in
const login = await client.POST('/login', { body: { username, password } })
assert.equal(login.response.status, 200, 'login answers 200')
assert.ok(login.data !== undefined, 'login returns a token')
assert.equal(login.data.token_type, 'Bearer')
client.use({
  onRequest ({ request }) {
    request.headers.set('authorization', `Bearer ${login.data.access_token}`)
    return request
  }
})

// create events: three of one type, so that a page of two has a next one
const created: string[] = []
for (let i = 0; i < 3; i++) {
  const res = await client.POST('/events', {
    body: {
      event_type: eventType,
      username: 'john_mayor',
      entitytype: 'customer_account',
      ip: '192.168.0.1',
      location: 'New York',
      description: `SDK round trip ${i}`,
      event_id: `${run}-${i}`,
      event_specificdetails: { account_number: run, card: { brand: i === 0 ? 'visa' : 'mastercard' } }
    }
  })
  assert.equal(res.response.status, 201, `createEvent ${i} answers 201`)
  assert.ok(res.data !== undefined)
  assert.equal(res.data.status, 'created')
  created.push(res.data.id)
}
const again = await client.POST('/events', {
  body: {
    event_type: eventType,
    username: 'john_mayor',
    entitytype: 'customer_account',
    ip: '192.168.0.1',
    location: 'New York',
    description: 'repeat',
    event_id: `${run}-0`
  }
})
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

// follow next_cursor to a second page
const first = await client.GET('/events', { params: { query: { event_type: [eventType], limit: 2, order: 'asc' } } })
assert.equal(first.response.status, 200)
assert.deepEqual(first.data?.items.map((event) => event.id), created.slice(0, 2), 'first page: the two oldest, in order')
const cursor = first.data?.next_cursor
assert.ok(typeof cursor === 'string', 'the first page has a next_cursor')
const second = await client.GET('/events', { params: { query: { event_type: [eventType], limit: 2, order: 'asc', cursor } } })
assert.equal(second.response.status, 200)
assert.deepEqual(second.data?.items.map((event) => event.id), created.slice(2), 'second page: the third')
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
  'sdk-check: TypeScript client round trip passed (login, createEvent, listEvents by event_type and details, next_cursor, getEvent, exportEvents csv)\n'
)
