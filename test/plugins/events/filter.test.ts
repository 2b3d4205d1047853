import t from 'tap'
import { ObjectId } from 'mongodb'
import { buildQuery, toEventFilter, type EventFilter } from '../../../src/plugins/app/events/filter.js'
import { CursorCodec, queryFingerprint } from '../../../src/plugins/app/events/cursor.js'

/**
 * The pure pieces between a validated query string and the database: the typed filter, the MongoDB
 * query built from it, and the signed page cursor. The routes' tests check the same behaviour end to
 * end; these pin down the exact query shapes and the cursor's refusals one by one.
 */
const SECRET = 'a-secret-that-is-long-enough-for-hs256-0123456789'

t.test('toEventFilter', async (t) => {
  t.test('takes only the schema\'s field names, as lists, and always the tenant', async (t) => {
    const filter = toEventFilter('tenant-a', { event_type: ['A', 'B'], username: ['u'], ip: [], unknown: ['x'] })
    t.same(filter, { tenant: 'tenant-a', fields: { event_type: ['A', 'B'], username: ['u'] }, details: [], detailsExists: [] })
  })

  t.test('splits details paths into segments and keeps :exists apart', async (t) => {
    const filter = toEventFilter('t', { 'details.card.brand': ['visa'], 'details.amount:exists': false, 'details.a:exists.b': ['1'] })
    t.same(filter.details, [{ path: ['card', 'brand'], values: ['visa'] }, { path: ['a:exists', 'b'], values: ['1'] }])
    t.same(filter.detailsExists, [{ path: ['amount'], exists: false }])
  })

  t.test('time bounds: equal is allowed (an empty range), reversed is a 400 naming both', async (t) => {
    const equal = toEventFilter('t', { timeStart: '2024-01-01T00:00:00Z', timeEnd: '2024-01-01T00:00:00Z' })
    t.same([equal.timeStart?.toISOString(), equal.timeEnd?.toISOString()], ['2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z'])
    const offset = toEventFilter('t', { timeStart: '2024-01-01T01:30:00+01:30' })
    t.equal(offset.timeStart?.toISOString(), '2024-01-01T00:00:00.000Z', 'an offset is honoured')
    t.throws(() => toEventFilter('t', { timeStart: '2024-01-01T00:00:00.001Z', timeEnd: '2024-01-01T00:00:00Z' }),
      { statusCode: 400, message: 'timeStart must not be after timeEnd' })
  })
})

t.test('buildQuery', async (t) => {
  const base: EventFilter = { tenant: 'tenant-a' }

  t.test('the tenant is always a top-level equality, and nothing else is added for an empty filter', async (t) => {
    t.same(buildQuery(base), { tenant: 'tenant-a' })
    t.same(buildQuery({ ...base, fields: {}, details: [], detailsExists: [] }), { tenant: 'tenant-a' })
  })

  t.test('one value is an equality, several are $in; filters combine with $and', async (t) => {
    t.same(buildQuery({ ...base, fields: { event_type: ['A'], username: ['u1', 'u2'] } }), {
      tenant: 'tenant-a',
      $and: [{ event_type: 'A' }, { username: { $in: ['u1', 'u2'] } }]
    })
  })

  t.test('a details value that is a JSON number also matches the number; anything else only the string', async (t) => {
    const clause = (value: string) => (buildQuery({ ...base, details: [{ path: ['n'], values: [value] }] }) as { $and: unknown[] }).$and[0]
    t.same(clause('42'), { 'event_specificdetails.n': { $in: ['42', 42] } })
    t.same(clause('-4.25e2'), { 'event_specificdetails.n': { $in: ['-4.25e2', -425] } })
    t.same(clause('0'), { 'event_specificdetails.n': { $in: ['0', 0] } })
    for (const text of ['visa', '0x10', '0b11', '0o7', ' 42', '42 ', '1_000', 'Infinity', 'NaN', '042', '+1', '.5', '1.']) {
      t.same(clause(text), { 'event_specificdetails.n': text }, `"${text}" matches only itself`)
    }
  })

  t.test('details paths and exists', async (t) => {
    t.same(
      buildQuery({
        ...base,
        details: [{ path: ['card', 'brand'], values: ['visa', 'amex'] }],
        detailsExists: [{ path: ['x', 'y'], exists: false }]
      }),
      {
        tenant: 'tenant-a',
        $and: [{ 'event_specificdetails.card.brand': { $in: ['visa', 'amex'] } }, { 'event_specificdetails.x.y': { $exists: false } }]
      }
    )
  })

  t.test('time range: start inclusive, end exclusive', async (t) => {
    const timeStart = new Date('2024-01-01T00:00:00Z')
    const timeEnd = new Date('2024-02-01T00:00:00Z')
    t.same(buildQuery({ ...base, timeStart, timeEnd }), { tenant: 'tenant-a', $and: [{ timestamp: { $gte: timeStart, $lt: timeEnd } }] })
  })

  t.test('keyset: strictly after the last event in the page order, ties broken by id', async (t) => {
    const timestamp = new Date('2024-01-01T00:00:00Z')
    const id = new ObjectId().toHexString()
    t.same(buildQuery(base, { limit: 10, order: 'desc', after: { timestamp, id } }), {
      tenant: 'tenant-a',
      $and: [{ $or: [{ timestamp: { $lt: timestamp } }, { timestamp, _id: { $lt: new ObjectId(id) } }] }]
    })
    t.same(buildQuery(base, { limit: 10, order: 'asc', after: { timestamp, id } }), {
      tenant: 'tenant-a',
      $and: [{ $or: [{ timestamp: { $gt: timestamp } }, { timestamp, _id: { $gt: new ObjectId(id) } }] }]
    })
  })
})

t.test('CursorCodec', async (t) => {
  const codec = new CursorCodec(SECRET)
  const position = { timestamp: new Date('2024-05-06T07:08:09.123Z'), id: new ObjectId().toHexString() }
  const key = queryFingerprint(['tenant-a', 'desc', { event_type: ['A'] }])
  const cursor = codec.encode(position, key)

  t.test('round-trips a position for the same query', async (t) => {
    t.match(cursor, /^[A-Za-z0-9_-]+$/, 'URL-safe without escaping')
    t.same(codec.decode(cursor, key), position)
  })

  t.test('every single-character change is refused with 400', async (t) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    let refused = 0
    for (let i = 0; i < cursor.length; i++) {
      const replacement = alphabet[(alphabet.indexOf(cursor[i] as string) + 1) % alphabet.length] as string
      const garbled = cursor.slice(0, i) + replacement + cursor.slice(i + 1)
      try {
        codec.decode(garbled, key)
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 400) refused++
      }
    }
    t.equal(refused, cursor.length, `all ${cursor.length} garbled cursors refused, the last character's spare bits included`)
  })

  t.test('characters base64url decoding would skip are not ignored', async (t) => {
    for (const text of [
      `${cursor}=`,
      `%${cursor}`,
      `${cursor.slice(0, 10)}\u0000${cursor.slice(10)}`,
      `${cursor.slice(0, 10)} ${cursor.slice(10)}`,
      `${cursor}.`
    ]) {
      t.throws(() => codec.decode(text, key), { statusCode: 400, message: /cursor is not valid/ }, JSON.stringify(text))
    }
  })

  t.test('truncated, empty, foreign-key and forged cursors are refused with 400', async (t) => {
    for (const length of [0, 5, 21, cursor.length - 1]) {
      t.throws(
        () => codec.decode(cursor.slice(0, length), key),
        { statusCode: 400, message: /cursor is not valid/ },
        `truncated to ${length}`
      )
    }
    t.throws(
      () => new CursorCodec(SECRET + 'x').decode(cursor, key),
      { statusCode: 400, message: /cursor is not valid/ },
      'signed with another secret'
    )
    const body = Buffer.from(JSON.stringify({ t: 0, i: position.id, q: key }))
    const forged = Buffer.concat([Buffer.alloc(16), body]).toString('base64url')
    t.throws(() => codec.decode(forged, key), { statusCode: 400, message: /cursor is not valid/ }, 'unsigned body')
  })

  t.test('a cursor of another query (filters, order, tenant) is refused with 400', async (t) => {
    for (const other of [
      ['tenant-a', 'asc', { event_type: ['A'] }],
      ['tenant-a', 'desc', { event_type: ['B'] }],
      ['tenant-b', 'desc', { event_type: ['A'] }],
      ['tenant-a', 'desc', {}]
    ]) {
      t.throws(() => codec.decode(cursor, queryFingerprint(other)), { statusCode: 400, message: /another query/ }, JSON.stringify(other))
    }
  })
})
