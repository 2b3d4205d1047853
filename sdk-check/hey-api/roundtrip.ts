import assert from 'node:assert/strict'
import { createClient, createConfig } from '../../.sdk/hey-api/client/index.js'
import { createEvent, createEventBatch, exportEvents, getEvent, listEvents } from '../../.sdk/hey-api/index.js'
import type { EventInput } from '../../.sdk/hey-api/index.js'

/**
 * The SDK that @hey-api/openapi-ts generates (its own fetch client, one function per operation), used as a client
 * team would: no casts, and `tsc --strict` over this file and the generated code (sdk-check/tsconfig.json).
 * Run by scripts/sdk-check.sh against the live service:
 *   node --import tsx sdk-check/hey-api/roundtrip.ts <base url> <api key>
 */
const [baseUrl, apiKey] = process.argv.slice(2)
if (baseUrl === undefined || apiKey === undefined) throw new Error('usage: roundtrip.ts <base url> <api key>')

// `auth` fills the document's bearer scheme: the API key goes out as `Authorization: Bearer <key>`
const client = createClient(createConfig({ baseUrl, auth: apiKey }))
const run = `hey-${Date.now()}-${process.pid}`
const eventType = `SdkCheckHeyApi${Date.now()}`
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

// `response` is typed optional: it is undefined only when fetch itself failed, with no answer at all
const single = await createEvent({ client, body: event(0) })
assert.equal(single.response?.status, 201, `createEvent answers 201 (${JSON.stringify(single.error)})`)
assert.equal(single.data?.status, 'created')
const created = [single.data.id]
const batch = await createEventBatch({ client, body: { events: [event(1), event(2)] } })
assert.equal(batch.response?.status, 200, `createEventBatch answers 200 (${JSON.stringify(batch.error)})`)
for (const item of batch.data?.items ?? []) {
  assert.equal(item.status, 'created')
  assert.ok(typeof item.id === 'string', 'a created batch item has its id')
  created.push(item.id)
}
assert.equal(created.length, 3, 'one event and a batch of two')

const all = await listEvents({ client, query: { event_type: [eventType] } })
assert.equal(all.response?.status, 200)
assert.deepEqual(all.data?.items.map((event) => event.id).sort(), [...created].sort(), 'listEvents by event_type finds exactly the three')

const first = await listEvents({ client, query: { event_type: [eventType], limit: 2, order: 'asc' } })
assert.equal(first.data?.items.length, 2, 'first page: two')
assert.equal(first.data.items[0]?.id, created[0], 'the single event, written first, opens it')
assert.ok(typeof first.data.next_cursor === 'string', 'the first page has a next_cursor')
const second = await listEvents({ client, query: { event_type: [eventType], limit: 2, order: 'asc', cursor: first.data.next_cursor } })
assert.equal(second.data?.items.length, 1, 'second page: the third')
assert.deepEqual([...first.data.items, ...second.data.items].map((event) => event.id).sort(), [...created].sort(), 'each event once')
assert.equal(second.data.next_cursor, null, 'and no page after it')

// the deepObject as documented: hey-api's query serializer sends details[account_number]=…&details[card.brand]=visa
const byDetails = await listEvents({ client, query: { details: { account_number: run, 'card.brand': 'visa' } } })
assert.equal(byDetails.response?.status, 200, `details filter answers 200 (${JSON.stringify(byDetails.error)})`)
assert.deepEqual(byDetails.data?.items.map((event) => event.id), [created[0]], 'details[account_number] and details[card.brand] find the visa one')

const one = await getEvent({ client, path: { id: created[1] ?? '' } })
assert.equal(one.response?.status, 200)
assert.equal(one.data?.description, 'SDK round trip 1')
assert.deepEqual(one.data.event_specificdetails, { account_number: run, card: { brand: 'mastercard' } })
const missing = await getEvent({ client, path: { id: '0'.repeat(24) } })
assert.equal(missing.response?.status, 404)
assert.equal(missing.error?.code, 'NOT_FOUND', 'errors are typed, with the documented codes')

const csv = await exportEvents({ client, query: { event_type: [eventType], format: 'csv' }, parseAs: 'text' })
assert.equal(csv.response?.status, 200)
assert.match(csv.response?.headers.get('content-type') ?? '', /^text\/csv/)
const rows = (csv.data ?? '').trim().split('\r\n')
assert.equal(rows.length, 4, 'a header row and three events')
assert.match(rows[0] ?? '', /^id,seq,timestamp,tenant,submitted_by,event_type,/)
for (const id of created) assert.ok(rows.some((row) => row.startsWith(`${id},`)), `the export has ${id}`)

process.stdout.write(
  'sdk-check: @hey-api/openapi-ts round trip passed (API key, createEvent, createEventBatch, listEvents by event_type and details, next_cursor, getEvent, exportEvents csv)\n'
)
