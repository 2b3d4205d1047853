import t, { type Test } from 'tap'
import { ObjectId } from 'mongodb'
import type { LightMyRequestResponse } from 'fastify'
import { build, bearer, userWithToken } from '../helper.js'
import type { StoredEvent } from '../../src/plugins/app/events/record.js'

/**
 * GET /events (and the deprecated GET /event) and GET /events/{id} on a handful of events whose every
 * field and timestamp is chosen, so each filter's expected result can be read off the table below.
 * Tenant-b holds a twin of e1 (same fields, details and event_id): any leak across tenants shows.
 */
const T0 = Date.parse('2024-01-01T00:00:00.000Z')
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString()

interface Fixture {
  label: string
  tenant: string
  second: number
  fields: Pick<StoredEvent, 'event_type' | 'username' | 'entitytype' | 'ip' | 'location' | 'description' | 'submitted_by'>
  details?: Record<string, unknown>
  eventId?: string
}

const FIXTURES: Fixture[] = [
  {
    label: 'e1',
    tenant: 'tenant-a',
    second: 0,
    eventId: 'acct-1',
    fields: {
      event_type: 'AccountCreated',
      username: 'alice',
      entitytype: 'customer_account',
      ip: '10.0.0.1',
      location: 'New York',
      description: 'Account created',
      submitted_by: 'writer-a'
    },
    details: { account_number: '94859', amount: 42, card: { brand: 'visa' } }
  },
  {
    label: 'e2',
    tenant: 'tenant-a',
    second: 1,
    eventId: 'bill-2',
    fields: {
      event_type: 'BillingCharged',
      username: 'bob',
      entitytype: 'invoice',
      ip: '10.0.0.2',
      location: 'London',
      description: 'Card charged',
      submitted_by: 'writer-a'
    },
    details: { amount: '42', card: { brand: 'mastercard' } }
  },
  {
    label: 'e3',
    tenant: 'tenant-a',
    second: 2,
    fields: {
      event_type: 'AccountDeleted',
      username: 'alice',
      entitytype: 'customer_account',
      ip: '2001:db8::1',
      location: 'Paris',
      description: 'Account deleted',
      submitted_by: 'writer2'
    },
    details: { amount: 7, note: null }
  },
  {
    label: 'e4',
    tenant: 'tenant-a',
    second: 3,
    eventId: 'bill-4',
    fields: {
      event_type: 'BillingCharged',
      username: 'carol',
      entitytype: 'invoice',
      ip: '10.0.0.1',
      location: 'New York, NY',
      description: 'Card charged',
      submitted_by: 'writer2'
    }
  },
  {
    label: 'e5',
    tenant: 'tenant-a',
    second: 4,
    eventId: 'acct-5',
    fields: {
      event_type: 'AccountCreated',
      username: 'bob',
      entitytype: 'customer_account',
      ip: '10.0.0.3',
      location: 'London',
      description: 'Account created',
      submitted_by: 'writer-a'
    },
    details: { amount: 42.5, tags: ['x', 'y'], card: { brand: 'VISA' } }
  },
  // same timestamp as e5: the tie is broken by id
  {
    label: 'e6',
    tenant: 'tenant-a',
    second: 4,
    fields: {
      event_type: 'LoginFailed',
      username: 'dave',
      entitytype: 'session',
      ip: '10.0.0.4',
      location: 'Berlin',
      description: 'Wrong password',
      submitted_by: 'writer-a'
    },
    details: { account_number: 94859, attempts: 3 }
  },
  {
    label: 'b1',
    tenant: 'tenant-b',
    second: 0.5,
    eventId: 'acct-1',
    fields: {
      event_type: 'AccountCreated',
      username: 'alice',
      entitytype: 'customer_account',
      ip: '10.0.0.1',
      location: 'New York',
      description: 'Account created',
      submitted_by: 'writer-a'
    },
    details: { account_number: '94859', amount: 42, card: { brand: 'visa' } }
  }
]

/** Ids fixed and increasing in table order, so ties on timestamp have a known order. */
function toStored (fixture: Fixture, index: number): StoredEvent {
  const _id = new ObjectId((0x6592ab00 + index).toString(16) + 'cafe000000000000')
  const seq = FIXTURES.slice(0, index + 1).filter((other) => other.tenant === fixture.tenant).length
  const doc: StoredEvent = {
    _id,
    tenant: fixture.tenant,
    seq,
    idem_key: `i:${_id.toHexString()}`,
    timestamp: new Date(T0 + fixture.second * 1000),
    ...fixture.fields
  }
  if (fixture.details !== undefined) doc.event_specificdetails = fixture.details
  if (fixture.eventId !== undefined) doc.event_id = fixture.eventId
  return doc
}

const DOCS = FIXTURES.map(toStored)
const LABEL_BY_ID = new Map(DOCS.map((doc, i) => [doc._id.toHexString(), (FIXTURES[i] as Fixture).label]))
const idOf = (label: string) => (DOCS[FIXTURES.findIndex((f) => f.label === label)] as StoredEvent)._id.toHexString()

/** The labels of a page's items, in the order served. */
function labels (res: LightMyRequestResponse): string[] {
  return (res.json().items as Array<{ id: string }>).map((item) => LABEL_BY_ID.get(item.id) ?? `unknown:${item.id}`)
}

t.test('querying events', async (t) => {
  const app = await build(t)
  const readerA = bearer(await userWithToken(app, { username: 'reader-a', roles: ['reader'], tenant: 'tenant-a' }))
  const readerB = bearer(await userWithToken(app, { username: 'reader-b', roles: ['reader'], tenant: 'tenant-b' }))
  const writerOnly = bearer(await userWithToken(app, { username: 'writer-only', roles: ['writer'], tenant: 'tenant-a' }))
  const outcomes = await app.eventStore.insertMany(DOCS)
  t.ok(outcomes.every((o) => o.ok), 'fixtures stored')

  const get = (url: string, headers = readerA) => app.inject({ method: 'GET', url, headers })

  /** Asserts a 200 whose items are exactly these events (in any order). */
  async function expectMatches (t: Test, url: string, expected: string[], headers = readerA) {
    const res = await get(url, headers)
    t.equal(res.statusCode, 200, `${url} → 200`)
    t.same(labels(res).sort(), [...expected].sort(), `${url} → ${expected.join(', ') || 'nothing'}`)
  }

  await t.test('each field filter alone', async (t) => {
    const cases: Array<[string, string[]]> = [
      ['event_type=BillingCharged', ['e2', 'e4']],
      ['username=alice', ['e1', 'e3']],
      ['entitytype=invoice', ['e2', 'e4']],
      ['ip=10.0.0.1', ['e1', 'e4']],
      ['ip=2001:db8::1', ['e3']],
      // exact match: not a prefix, not a substring
      ['location=New%20York', ['e1']],
      ['location=New%20York%2C%20NY', ['e4']],
      ['description=Card%20charged', ['e2', 'e4']],
      ['submitted_by=writer2', ['e3', 'e4']],
      ['event_id=acct-1', ['e1']],
      ['username=Alice', []],
      ['event_type=Billing', []]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
  })

  await t.test('filters combine with AND', async (t) => {
    const cases: Array<[string, string[]]> = [
      ['event_type=BillingCharged&ip=10.0.0.1', ['e4']],
      ['username=alice&submitted_by=writer2', ['e3']],
      ['username=bob&location=London&details.amount=42', ['e2']],
      ['event_type=AccountCreated&details.card.brand=visa', ['e1']],
      ['entitytype=customer_account&timeStart=' + at(1), ['e3', 'e5']],
      ['username=alice&event_id=bill-2', []]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
  })

  await t.test('a repeated parameter matches any of its values', async (t) => {
    const cases: Array<[string, string[]]> = [
      ['event_type=AccountCreated&event_type=LoginFailed', ['e1', 'e5', 'e6']],
      ['username=alice&username=dave', ['e1', 'e3', 'e6']],
      ['event_type=BillingCharged&event_type=AccountDeleted&ip=10.0.0.1', ['e4']],
      ['event_id=acct-1&event_id=bill-4&event_id=nope', ['e1', 'e4']],
      ['details.amount=42&details.amount=7', ['e1', 'e2', 'e3']]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
  })

  await t.test('<field>_not excludes values; an event without the field is kept', async (t) => {
    const cases: Array<[string, string[]]> = [
      ['event_type_not=BillingCharged', ['e1', 'e3', 'e5', 'e6']],
      ['event_type_not=BillingCharged&event_type_not=AccountCreated', ['e3', 'e6']],
      ['submitted_by_not=writer2', ['e1', 'e2', 'e5', 'e6']],
      // e3 and e6 have no event_id: "not acct-1" keeps them
      ['event_id_not=acct-1', ['e2', 'e3', 'e4', 'e5', 'e6']],
      ['username_not=alice&event_type=AccountCreated', ['e5']],
      // exact, like the positive filter: not a prefix
      ['event_type_not=Account', ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
  })

  await t.test('<field>_prefix matches the start of a value (and _not_prefix excludes it), case-sensitive, any of several, its text taken literally', async (t) => {
    const cases: Array<[string, string[]]> = [
      ['event_type_prefix=Account', ['e1', 'e3', 'e5']],
      ['event_type_prefix=Account&event_type_prefix=Login', ['e1', 'e3', 'e5', 'e6']],
      ['event_type_prefix=account', []],
      ['location_prefix=New%20York', ['e1', 'e4']],
      ['location_prefix=New%20York%2C', ['e4']],
      // pattern characters are text: "." is a dot, not any character
      ['location_prefix=New.York', []],
      ['location_prefix=.*', []],
      ['ip_prefix=10.0.0.', ['e1', 'e2', 'e4', 'e5', 'e6']],
      ['event_type_prefix=Account&event_type_not=AccountDeleted&username_not=bob', ['e1']],
      // and excluded: e3 and e6 have no event_id, and are kept
      ['event_type_not_prefix=Account', ['e2', 'e4', 'e6']],
      ['event_type_not_prefix=Account&event_type_not_prefix=Billing', ['e6']],
      ['event_id_not_prefix=acct-', ['e2', 'e3', 'e4', 'e6']],
      ['location_not_prefix=New.', ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
  })

  await t.test('q: free text over description, event_type, username, entitytype and location, ignoring case', async (t) => {
    const cases: Array<[string, string[]]> = [
      ['q=charged', ['e2', 'e4']],
      ['q=CARD', ['e2', 'e4']],
      ['q=paris', ['e3']],
      ['q=York%2C%20NY', ['e4']],
      ['q=loginfailed', ['e6']],
      ['q=.*', []],
      ['q=Account&username=bob', ['e5']],
      // not the ip, not details
      ['q=10.0.0.1', []],
      ['q=94859', []]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
    await expectMatches(t, '/events?q=charged', [], readerB)
  })

  await t.test('the new filters refuse what they cannot mean with a 400', async (t) => {
    const cases: Array<[string, string, RegExp]> = [
      ['event_type_not=', 'VALIDATION_FAILED', /event_type_not/],
      ['event_type_prefix=', 'VALIDATION_FAILED', /event_type_prefix/],
      ['q=', 'VALIDATION_FAILED', /q/],
      ['q=%20%20', 'BAD_REQUEST', /q must hold some text/],
      [`q=${'x'.repeat(257)}`, 'VALIDATION_FAILED', /q/],
      ['event_type_suffix=x', 'VALIDATION_FAILED', /event_type_suffix/]
    ]
    for (const [query, code, message] of cases) {
      const res = await get(`/events?${query}`)
      t.equal(res.statusCode, 400, `${query.slice(0, 40)} → 400`)
      t.equal(res.json().code, code, `${query.slice(0, 40)}: ${code}`)
      t.match(res.json().message, message, 'the message names it')
    }
  })

  await t.test('details paths: equality, numbers match as numbers and as text, nested paths', async (t) => {
    const cases: Array<[string, string[]]> = [
      // stored 42 (number) and "42" (string); not 42.5
      ['details.amount=42', ['e1', 'e2']],
      ['details.amount=42.5', ['e5']],
      ['details.amount=7', ['e3']],
      // stored "94859" (string) and 94859 (number)
      ['details.account_number=94859', ['e1', 'e6']],
      ['details.card.brand=visa', ['e1']],
      ['details.card.brand=VISA', ['e5']],
      // an array matches any of its elements, as in MongoDB
      ['details.tags=y', ['e5']],
      // not JSON numbers: text only, nothing stored like that
      ['details.amount=0x2A', []],
      ['details.amount=042', []],
      ['details.card=visa', []],
      ['details.nothing.here=1', []]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
  })

  await t.test('details.<path>:exists', async (t) => {
    const cases: Array<[string, string[]]> = [
      ['details.card:exists=true', ['e1', 'e2', 'e5']],
      ['details.card:exists=false', ['e3', 'e4', 'e6']],
      ['details.card.brand:exists=true', ['e1', 'e2', 'e5']],
      // present with a null value still exists
      ['details.note:exists=true', ['e3']],
      ['details.account_number:exists=true&details.amount:exists=false', ['e6']],
      ['details.amount:exists=true&details.amount=42', ['e1', 'e2']]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
    const res = await get('/events?details.card:exists=yes')
    t.equal(res.statusCode, 400)
    t.match(res.json().message, /details\.card:exists must be boolean/)
  })

  await t.test('details as an OpenAPI deepObject: details[path]=value, nested or dotted, and the :exists form', async (t) => {
    const cases: Array<[string, string[]]> = [
      ['details[account_number]=94859', ['e1', 'e6']],
      ['details[card][brand]=visa', ['e1']],
      ['details[card.brand]=VISA', ['e5']],
      [`${encodeURIComponent('details[card][brand]')}=visa`, ['e1']],
      ['details[amount]=42&details[amount]=7', ['e1', 'e2', 'e3']],
      // the two spellings combine: any of the values of one path
      ['details[amount]=7&details.amount=42.5', ['e3', 'e5']],
      ['details[card][brand:exists]=true', ['e1', 'e2', 'e5']],
      ['details[card.brand:exists]=false', ['e3', 'e4', 'e6']],
      ['event_type=AccountCreated&details[card][brand]=visa', ['e1']]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)
    const exists = await get('/events?details[card][brand:exists]=maybe')
    t.equal(exists.statusCode, 400)
    t.match(exists.json().message, /details\.card\.brand:exists must be boolean/, 'named in the dotted spelling it was validated in')
    for (const query of [
      'details[$where]=1',
      'details[card][$ne]=x',
      'details[]=1',
      'details[a]b=1',
      'details[a][[b]]=1',
      `details${'[a]'.repeat(9)}=1`
    ]) {
      const res = await get(`/events?${query}`)
      t.equal(res.statusCode, 400, `${query} → 400`)
      t.equal(res.json().code, 'VALIDATION_FAILED', `${query}: validation`)
    }
    const exported = await get('/events/export?details[card][brand]=visa')
    t.equal(exported.statusCode, 200, 'export takes the same form')
    t.equal(exported.body.trim().split('\n').length, 1, 'one event exported')
  })

  await t.test('details_json: the same filter as one JSON parameter, for generators without deepObject, gives the same page', async (t) => {
    const json = (value: unknown) => `details_json=${encodeURIComponent(JSON.stringify(value))}`
    const cases: Array<[string, string]> = [
      ['details[account_number]=94859', json({ account_number: '94859' })],
      ['details[account_number]=94859', json({ account_number: 94859 })],
      ['details[card][brand]=visa', json({ card: { brand: 'visa' } })],
      ['details[card][brand]=visa', json({ 'card.brand': 'visa' })],
      ['details[amount]=42&details[amount]=7', json({ amount: [42, '7'] })],
      ['details[card][brand:exists]=true', json({ 'card.brand:exists': true })],
      ['details[card.brand:exists]=false', json({ card: { 'brand:exists': false } })],
      ['event_type=AccountCreated&details[card][brand]=visa', `event_type=AccountCreated&${json({ card: { brand: 'visa' } })}`],
      // beside the deepObject, the values of one path still match any of them
      ['details[amount]=7&details.amount=42.5', `details[amount]=7&${json({ amount: 42.5 })}`]
    ]
    for (const [deepObject, asJson] of cases) {
      const expected = await get(`/events?${deepObject}`)
      const res = await get(`/events?${asJson}`)
      t.equal(res.statusCode, 200, `${decodeURIComponent(asJson)} → 200`)
      t.ok(labels(expected).length > 0, `${deepObject} matches something`)
      t.same(labels(res), labels(expected), `${decodeURIComponent(asJson)} is ${deepObject}`)
    }
    for (const path of ['/events/export', '/event', '/events/histogram?interval=1h&timeStart=2024-01-01T00:00:00Z&timeEnd=2024-01-02T00:00:00Z']) {
      const separator = path.includes('?') ? '&' : '?'
      const deepObject = await get(`${path}${separator}details[card][brand]=visa`)
      const asJson = await get(`${path}${separator}${json({ card: { brand: 'visa' } })}`)
      t.equal(asJson.statusCode, 200, `${path} takes details_json`)
      t.equal(asJson.body, deepObject.body, `${path}: the same answer both ways`)
    }

    const refused: Array<[string, string]> = [
      ['not JSON', 'details_json=%7Bcard'],
      ['an array', json([{ card: 'visa' }])],
      ['a string', json('visa')],
      ['null', json(null)],
      ['a null value', json({ card: null })],
      ['a list holding an object', json({ card: [{ brand: 'visa' }] })],
      ['an empty list', json({ card: [] })],
      ['too deep', json({ a: { b: { c: { d: { e: { f: { g: { h: { i: 'x' } } } } } } } } })],
      ['too long', json({ note: 'x'.repeat(8200) })],
      ['twice', `${json({ a: '1' })}&${json({ b: '2' })}`]
    ]
    for (const [what, query] of refused) {
      const res = await get(`/events?${query}`)
      t.equal(res.statusCode, 400, `${what} → 400`)
      t.equal(res.json().code, 'VALIDATION_FAILED', `${what}: validation`)
      t.match(res.json().message, /querystring\/details_json must be a JSON object/, `${what}: named`)
    }
    for (const value of [{ $where: '1' }, { card: { $ne: 'x' } }, { '': 'x' }]) {
      const res = await get(`/events?${json(value)}`)
      t.equal(res.statusCode, 400, `${JSON.stringify(value)}: a path the details patterns refuse → 400`)
      t.equal(res.json().code, 'VALIDATION_FAILED')
    }
  })

  await t.test('time range: timeStart inclusive, timeEnd exclusive', async (t) => {
    const cases: Array<[string, string[]]> = [
      [`timeStart=${at(1)}`, ['e2', 'e3', 'e4', 'e5', 'e6']],
      [`timeEnd=${at(1)}`, ['e1']],
      [`timeStart=${at(1)}&timeEnd=${at(3)}`, ['e2', 'e3']],
      // both events at 4 s are included by a start at 4 s
      [`timeStart=${at(4)}`, ['e5', 'e6']],
      [`timeStart=${at(4)}&timeEnd=${at(4)}`, []],
      [`timeEnd=${at(0)}`, []],
      ['timeEnd=2024-01-01T00:00:00.001Z', ['e1']],
      // the same instant written with an offset
      [`timeStart=${encodeURIComponent('2024-01-01T01:00:02+01:00')}`, ['e3', 'e4', 'e5', 'e6']]
    ]
    for (const [query, expected] of cases) await expectMatches(t, `/events?${query}`, expected)

    const reversed = await get(`/events?timeStart=${at(3)}&timeEnd=${at(1)}`)
    t.equal(reversed.statusCode, 400)
    t.equal(reversed.json().message, 'timeStart must not be after timeEnd')
    const bad: Array<[string, RegExp]> = [
      ['timeStart=yesterday', /timeStart must match format "date-time"/],
      ['timeStart=2024-01-01', /timeStart must match format "date-time"/],
      ['timeEnd=2024-13-01T00:00:00Z', /timeEnd must match format "date-time"/],
      ['timeEnd=2024-01-01T00:00:00', /timeEnd must match format "date-time"/],
      ['timeStart=2024-01-01T00:00:00Z&timeStart=2024-01-02T00:00:00Z', /timeStart/],
      // RFC 3339 allows a leap second; JavaScript dates cannot hold it (the date-time format refuses it)
      ['timeStart=2016-12-31T23:59:60Z', /timeStart must match format "date-time"/]
    ]
    for (const [query, message] of bad) {
      const res = await get(`/events?${query}`)
      t.equal(res.statusCode, 400, query)
      t.match(res.json().message, message, query)
    }
  })

  await t.test('order: newest first by default, asc on request, ties by id', async (t) => {
    t.same(labels(await get('/events')), ['e6', 'e5', 'e4', 'e3', 'e2', 'e1'])
    t.same(labels(await get('/events?order=desc')), ['e6', 'e5', 'e4', 'e3', 'e2', 'e1'])
    t.same(labels(await get('/events?order=asc')), ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'])
    t.same(labels(await get('/events?order=asc&event_type=AccountCreated&event_type=LoginFailed')), ['e1', 'e5', 'e6'])
    const sideways = await get('/events?order=sideways')
    t.equal(sideways.statusCode, 400)
    t.same(sideways.json().message, 'querystring/order must be one of: desc, asc', 'an enum error lists the allowed values')
  })

  await t.test('a page is {items, next_cursor}: each item in its public form, next_cursor null on the last page', async (t) => {
    const first = await get('/events?limit=4')
    t.equal(first.statusCode, 200)
    t.same(Object.keys(first.json()).sort(), ['items', 'next_cursor'])
    t.same(labels(first), ['e6', 'e5', 'e4', 'e3'])
    t.type(first.json().next_cursor, 'string')
    const second = await get(`/events?limit=4&cursor=${first.json().next_cursor as string}`)
    t.same(labels(second), ['e2', 'e1'])
    t.equal(second.json().next_cursor, null)
    // exactly a page's worth left: no empty page after it
    const exact = await get('/events?limit=6')
    t.equal(exact.json().next_cursor, null)

    const item = (await get('/events?event_id=acct-1')).json().items[0]
    t.same(item, {
      id: idOf('e1'),
      seq: 1,
      timestamp: '2024-01-01T00:00:00.000Z',
      tenant: 'tenant-a',
      submitted_by: 'writer-a',
      event_type: 'AccountCreated',
      username: 'alice',
      entitytype: 'customer_account',
      ip: '10.0.0.1',
      location: 'New York',
      description: 'Account created',
      event_specificdetails: { account_number: '94859', amount: 42, card: { brand: 'visa' } },
      event_id: 'acct-1'
    }, 'no _id, idem_key or other internals')
  })

  await t.test('unknown parameters and malformed values are 400s that name them', async (t) => {
    const cases: Array<[string, RegExp]> = [
      ['usernme=alice', /additional property 'usernme'/],
      ['tenant=tenant-b', /additional property 'tenant'/],
      ['_id=x', /additional property '_id'/],
      ['details=x', /additional property 'details'/],
      ['timestamp=2024-01-01T00:00:00Z', /additional property 'timestamp'/],
      ['limit=0', /limit must be >= 1/],
      ['limit=1001', /limit must be <= 1000/],
      ['limit=abc', /limit must be integer/],
      ['limit=2.5', /limit must be integer/],
      ['username=', /username\/0 must NOT have fewer than 1 characters/],
      [`username=${'x'.repeat(4097)}`, /username\/0 must NOT have more than 4096 characters/],
      ['cursor=', /cursor must NOT have fewer than 1 characters/]
    ]
    for (const [query, message] of cases) {
      const res = await get(`/events?${query}`)
      t.equal(res.statusCode, 400, query)
      t.equal(res.json().code, 'VALIDATION_FAILED', query)
      t.match(res.json().message, message, query)
    }
    t.equal((await get('/events?limit=1000')).statusCode, 200, 'limit 1000 is allowed')
    t.equal((await get('/events?limit=1')).statusCode, 200, 'limit 1 is allowed')
  })

  await t.test('operator-shaped input never widens a result', async (t) => {
    // refused outright: names that are not parameters
    const refused = [
      'username[$ne]=x',
      'username[]=alice',
      'event_type[$regex]=.*',
      '$where=1',
      'details.$where=1',
      'details.a..b=1',
      'details.card.$ne=x',
      'username=alice&username[$ne]=x',
      `details.${'a.'.repeat(8)}b=1`
    ]
    for (const query of refused) {
      const res = await get(`/events?${query}`)
      t.equal(res.statusCode, 400, `${query} → 400`)
    }
    // accepted as exact text: nothing is stored like that, so nothing comes back
    const literal = [
      `username=${encodeURIComponent('{"$gt":""}')}`,
      `username=${encodeURIComponent('{"$ne":"x"}')}`,
      `details.amount=${encodeURIComponent('{"$gt":0}')}`,
      `details.card=${encodeURIComponent('{"$exists":true}')}`,
      'username=.*',
      'event_type=%24exists',
      `details.card:exists${encodeURIComponent('[$ne]')}=x`,
      'details.__proto__.polluted=1',
      // a bracket inside a path segment is part of the key's name, not an operator
      `details.amount${encodeURIComponent('[$gt]')}=0`
    ]
    for (const query of literal) {
      const res = await get(`/events?${query}`)
      t.equal(res.statusCode, 200, `${query} → 200`)
      t.same(res.json().items, [], `${query} → no events`)
    }
  })

  await t.test('GET /events/{id}: the event, 404 when absent, 400 when malformed', async (t) => {
    const found = await get(`/events/${idOf('e3')}`)
    t.equal(found.statusCode, 200)
    t.same(found.json(), {
      id: idOf('e3'),
      seq: 3,
      timestamp: '2024-01-01T00:00:02.000Z',
      tenant: 'tenant-a',
      submitted_by: 'writer2',
      event_type: 'AccountDeleted',
      username: 'alice',
      entitytype: 'customer_account',
      ip: '2001:db8::1',
      location: 'Paris',
      description: 'Account deleted',
      event_specificdetails: { amount: 7, note: null }
    })
    const missing = await get(`/events/${new ObjectId().toHexString()}`)
    t.equal(missing.statusCode, 404)
    t.same(missing.json(), { statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'Event not found' })
    for (const id of ['abc', 'zzzzzzzzzzzzzzzzzzzzzzzz', idOf('e3').toUpperCase(), idOf('e3') + '0', '%24ne']) {
      const res = await get(`/events/${id}`)
      t.equal(res.statusCode, 400, `${id} → 400`)
      t.match(res.json().message, /params\/id/, id)
    }
  })

  await t.test('another tenant\'s events are invisible: list, filters, id, event_id', async (t) => {
    t.same(labels(await get('/events', readerB)), ['b1'])
    t.same(labels(await get('/events?event_type=AccountCreated', readerB)), ['b1'])
    t.same(labels(await get('/events?event_id=acct-1', readerB)), ['b1'])
    t.same(labels(await get('/events?details.amount=42', readerB)), ['b1'])
    t.same(labels(await get('/events?username=bob', readerB)), [])
    t.same(labels(await get(`/events?timeStart=${at(1)}`, readerB)), [])
    const foreign = await get(`/events/${idOf('e1')}`, readerB)
    t.equal(foreign.statusCode, 404, 'an id of tenant-a is not found for tenant-b')
    t.equal(foreign.json().message, 'Event not found')
    t.equal((await get(`/events/${idOf('b1')}`)).statusCode, 404, 'and the other way round')
    t.same(labels(await get('/events?event_id=acct-1')), ['e1'], 'the same event_id in two tenants: each sees its own')
  })

  await t.test('GET /event is the same query under the original path, marked deprecated', async (t) => {
    for (const query of ['', '?username=alice', '?order=asc&limit=2', '?details.amount=42']) {
      const current = await get(`/events${query}`)
      const original = await get(`/event${query}`)
      t.equal(original.statusCode, 200, `/event${query}`)
      t.same(labels(original), labels(current), `/event${query} answers as /events${query}`)
    }
    t.equal((await get('/event?usernme=x')).statusCode, 400)
    const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
    t.equal(spec.paths['/event'].get.deprecated, true)
    t.not(spec.paths['/events'].get.deprecated, true)
  })

  await t.test('reads need a token with the reader role', async (t) => {
    for (const url of ['/events', '/event', `/events/${idOf('e1')}`]) {
      t.equal((await app.inject({ method: 'GET', url })).statusCode, 401, `${url} without a token`)
      t.equal((await get(url, writerOnly)).statusCode, 403, `${url} as a writer`)
    }
  })
})
