import t from 'tap'
import { ObjectId } from 'mongodb'
import { build, bearer, userWithToken } from '../helper.js'
import type { StoredEvent } from '../../src/plugins/app/events/record.js'

/**
 * GET /events/histogram on events whose receipt times are chosen: counts per bucket, filters, tenancy,
 * and the same answer whichever way it is counted ($group in the database, or streamed timestamps).
 */
const T0 = Date.parse('2024-03-01T10:00:00.000Z')
const minutes = (n: number) => new Date(T0 + n * 60_000)

let next = 0
function stored (tenant: string, at: Date, fields: Partial<StoredEvent> = {}): StoredEvent {
  const _id = new ObjectId()
  return {
    _id,
    tenant,
    seq: ++next,
    idem_key: `i:${_id.toHexString()}`,
    timestamp: at,
    event_type: 'Login',
    username: 'alice',
    entitytype: 'session',
    ip: '10.0.0.1',
    location: 'Paris',
    description: 'Logged in',
    submitted_by: 'writer',
    ...fields
  }
}

t.test('GET /events/histogram', async (t) => {
  const app = await build(t)
  const reader = bearer(await userWithToken(app, { username: 'reader', roles: ['reader'], tenant: 'tenant-a' }))
  const writer = bearer(await userWithToken(app, { username: 'writer', roles: ['writer'], tenant: 'tenant-a' }))
  const docs = [
    stored('tenant-a', minutes(0)), stored('tenant-a', minutes(0.5)), stored('tenant-a', minutes(4.99)),
    stored('tenant-a', minutes(5), { event_type: 'Logout', event_specificdetails: { card: { brand: 'visa' } } }),
    stored('tenant-a', minutes(12), { event_specificdetails: { card: { brand: 'visa' } } }),
    // outside the range asked for
    stored('tenant-a', minutes(-1)), stored('tenant-a', minutes(15)),
    // another tenant, inside the range: never counted
    stored('tenant-b', minutes(1)), stored('tenant-b', minutes(6))
  ]
  t.ok((await app.eventStore.insertMany(docs)).every((outcome) => outcome.ok), 'fixtures stored')
  const range = `timeStart=${minutes(0).toISOString()}&timeEnd=${minutes(15).toISOString()}`
  const get = (query: string, headers: Record<string, string> = reader) =>
    app.inject({ method: 'GET', url: `/events/histogram?${query}`, headers })

  const expected = [
    { start: '2024-03-01T10:00:00.000Z', count: 3 },
    { start: '2024-03-01T10:05:00.000Z', count: 1 },
    { start: '2024-03-01T10:10:00.000Z', count: 1 }
  ]

  await t.test('counts per bucket, empty buckets included, only the caller\'s tenant', async (t) => {
    const res = await get(`${range}&interval=5m`)
    t.equal(res.statusCode, 200, res.body)
    t.same(
      res.json(),
      { interval: '5m', timeStart: '2024-03-01T10:00:00.000Z', timeEnd: '2024-03-01T10:15:00.000Z', total: 5, buckets: expected },
      'three 5-minute buckets'
    )
    t.ok(app.eventHistogram.grouping !== undefined, `the counting method was found out (${String(app.eventHistogram.grouping)})`)
  })

  await t.test('streamed counting gives the same answer as the database\'s $group', async (t) => {
    const detected = app.eventHistogram.grouping
    app.eventHistogram.grouping = 'stream'
    t.teardown(() => { app.eventHistogram.grouping = detected })
    const res = await get(`${range}&interval=5m`)
    t.same(res.json().buckets, expected, 'same buckets when streamed')
  })

  await t.test('buckets align to UTC multiples of the interval, whatever the range starts at', async (t) => {
    const res = await get('timeStart=2024-03-01T10:03:00Z&timeEnd=2024-03-01T10:11:00Z&interval=5m')
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json().buckets, [
      { start: '2024-03-01T10:00:00.000Z', count: 1 },
      { start: '2024-03-01T10:05:00.000Z', count: 1 },
      { start: '2024-03-01T10:10:00.000Z', count: 0 }
    ], 'the 10:00 bucket counts only events from 10:03 on; the 10:12 event is past the end')
  })

  await t.test('the search filters apply: a field and a details pair', async (t) => {
    const byType = await get(`${range}&interval=15m&event_type=Logout`)
    t.same(byType.json().buckets, [{ start: '2024-03-01T10:00:00.000Z', count: 1 }], 'event_type=Logout')
    const byDetails = await get(`${range}&interval=1h&details[card][brand]=visa`)
    t.same(
      byDetails.json(),
      {
        interval: '1h',
        timeStart: '2024-03-01T10:00:00.000Z',
        timeEnd: '2024-03-01T10:15:00.000Z',
        total: 2,
        buckets: [{ start: '2024-03-01T10:00:00.000Z', count: 2 }]
      },
      'details.card.brand=visa'
    )
  })

  await t.test('bad input is a 400 with the Error body, never a 5xx', async (t) => {
    const cases: Array<[string, RegExp]> = [
      [`${range}`, /interval/],
      [`timeStart=${minutes(0).toISOString()}&interval=5m`, /timeEnd/],
      [`${range}&interval=2m`, /interval/],
      ['timeStart=2024-01-01T00:00:00Z&timeEnd=2024-03-01T00:00:00Z&interval=1m', /buckets/],
      [`timeStart=${minutes(15).toISOString()}&timeEnd=${minutes(0).toISOString()}&interval=5m`, /timeStart/],
      [`${range}&interval=5m&nonsense=1`, /nonsense/],
      [`${range}&interval=5m&afterSeq=1`, /afterSeq/]
    ]
    for (const [query, message] of cases) {
      const res = await get(query)
      t.equal(res.statusCode, 400, `${query} → 400`)
      t.match(res.json(), { code: String, message }, `${query}: the message says what is wrong`)
    }
  })

  await t.test('readers only', async (t) => {
    t.equal((await get(`${range}&interval=5m`, {})).statusCode, 401, 'no token: 401')
    t.equal((await get(`${range}&interval=5m`, writer)).statusCode, 403, 'a writer without the reader role: 403')
  })
})
