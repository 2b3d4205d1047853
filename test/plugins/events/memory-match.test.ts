import t from 'tap'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'
import { toEventFilter } from '../../../src/plugins/app/events/filter.js'
import { matchesInMemory, UNDECIDED } from '../../../src/plugins/app/events/memory-match.js'
import type { StoredEvent } from '../../../src/plugins/app/events/record.js'
import { ObjectId } from 'mongodb'

/**
 * Followers at the tail of the log filter the events in memory (streaming/settled-tail.ts): what they
 * deliver must be what GET /events returns. Every filter below is asked of the database and decided in
 * memory over the same stored events, shapes chosen where MongoDB's dotted-path rules are easy to get
 * wrong: numbers against their strings, arrays of values and of objects, nulls, missing paths. Where the
 * memory declines (UNDECIDED), the database answers for it; the test pins down exactly where that is.
 */
const details: Array<Record<string, unknown> | undefined> = [
  { amount: 5, currency: 'EUR' },
  { amount: '5' },
  { amount: 5.5, n: 0 },
  { tags: ['x', 'y'] },
  { items: [{ sku: 'k' }, { sku: 'm' }] },
  { items: [{ sku: ['k'] }, 'k'] },
  { card: { brand: 'visa', last4: '4242' } },
  { card: null },
  { card: { brand: null } },
  { a: { b: { c: 1 } } },
  { a: [{ b: { c: 1 } }, { b: 2 }] },
  { flag: true, big: 2 ** 64, e: 1e21 },
  { 0: 'zero', list: [] },
  { mixed: [1, { sku: 'k' }, 'k'] },
  undefined
]

const filters: Array<Record<string, unknown>> = [
  {},
  { event_type: ['Paid'] },
  { event_type: ['Paid', 'Refunded'] },
  { username: ['nobody'] },
  { 'details.amount': ['5'] },
  { 'details.amount': ['5.0'] },
  { 'details.amount': ['05'] },
  { 'details.amount': ['5.5', 'EUR'] },
  { 'details.n': ['0'] },
  { 'details.n': ['-0'] },
  { 'details.tags': ['x'] },
  { 'details.tags': ['z'] },
  { 'details.items.sku': ['k'] },
  { 'details.items': ['k'] },
  { 'details.items.sku:exists': true },
  { 'details.items.sku:exists': false },
  { 'details.card.brand': ['visa'] },
  { 'details.card:exists': true },
  { 'details.card:exists': false },
  { 'details.card.brand:exists': true },
  { 'details.card.brand:exists': false },
  { 'details.a.b.c': ['1'] },
  { 'details.a.b': ['2'] },
  { 'details.a.b:exists': true },
  { 'details.flag': ['true'] },
  { 'details.big': ['18446744073709551616'] },
  { 'details.e': ['1e21'] },
  { 'details.list:exists': true },
  { 'details.mixed': ['k'] },
  { 'details.mixed.sku': ['k'] },
  { 'details.missing:exists': false },
  { 'details.currency': ['EUR'], 'details.amount': ['5'] },
  { event_type: ['Paid'], 'details.amount:exists': true },
  { event_type_not: ['Paid'] },
  { event_type_not: ['Paid', 'Refunded'] },
  { event_type_prefix: ['Re'] },
  { event_type_prefix: ['Pa', 'Vi'] },
  { event_type_prefix: ['paid'] },
  { event_type_prefix: ['Re'], event_type_not: ['Refunded'] },
  { event_type_not_prefix: ['Re'] },
  { event_type_not_prefix: ['Re', 'Pa'] },
  { q: 'paid' },
  { q: 'MAYOR' },
  { q: 'new york' },
  { q: 'nothing like it' },
  // where only the database decides: a numeric segment (an array index, or a key)
  { 'details.items.0.sku': ['k'] },
  { 'details.0': ['zero'] }
]

t.test('every filter decided in memory matches what the database returns for it', async (t) => {
  const app = await build(t)
  const writer = await userWithToken(app, { username: 'matcher', roles: ['writer'], tenant: 'match' })
  const events = details.map((value, i) => {
    const event = sampleEvent({ event_type: i % 3 === 0 ? 'Paid' : i % 3 === 1 ? 'Refunded' : 'Viewed' })
    if (value === undefined) delete event.event_specificdetails
    else event.event_specificdetails = value
    return event
  })
  const res = await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events } })
  t.equal(res.statusCode, 200, res.body)
  const stored = await app.eventStore.findPage(toEventFilter('match', {}), { limit: 100, order: 'asc' })
  t.equal(stored.length, details.length)

  const undecided: string[] = []
  for (const query of filters) {
    const filter = toEventFilter('match', query)
    const fromDatabase = (await app.eventStore.findPage(filter, { limit: 100, order: 'asc' })).map((doc) => doc.seq)
    const answers = stored.map((doc) => ({ seq: doc.seq, matched: matchesInMemory(filter, doc) }))
    if (answers.some(({ matched }) => matched === UNDECIDED)) {
      undecided.push(JSON.stringify(query))
      // declined only for some events: those it did decide still agree with the database
      for (const { seq, matched } of answers) {
        if (matched !== UNDECIDED) t.equal(matched, fromDatabase.includes(seq), `${JSON.stringify(query)} on seq ${seq}`)
      }
      continue
    }
    t.same(answers.filter(({ matched }) => matched === true).map(({ seq }) => seq), fromDatabase, JSON.stringify(query))
  }
  t.same(undecided, ['{"details.items.0.sku":["k"]}', '{"details.0":["zero"]}'], 'the memory declines only a numeric segment')
})

t.test('an array inside an array (stored before the service refused them) is left to the database', async (t) => {
  const doc = { tenant: 'm', event_specificdetails: { items: [[{ sku: 'k' }]] } } as unknown as Parameters<typeof matchesInMemory>[1]
  t.equal(matchesInMemory(toEventFilter('m', { 'details.items.sku': ['k'] }), doc), UNDECIDED)
  t.equal(
    matchesInMemory(toEventFilter('m', { 'details.items.sku': ['k'], event_type: ['Other'] }), doc),
    false,
    'unless another filter already excludes it'
  )
})

t.test('a time range is decided in memory as the database decides it: from inclusive, until exclusive', async (t) => {
  const app = await build(t)
  const writer = await userWithToken(app, { username: 'timer', roles: ['writer'], tenant: 'times' })
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: sampleEvent() })).statusCode, 201)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const stored = await app.eventStore.findPage(toEventFilter('times', {}), { limit: 10, order: 'asc' })
  const [first, second] = stored.map((doc) => doc.timestamp.toISOString())
  for (const query of [
    { timeStart: second },
    { timeEnd: second },
    { timeStart: first, timeEnd: second },
    { timeStart: second, timeEnd: second }
  ]) {
    const filter = toEventFilter('times', query)
    const fromDatabase = (await app.eventStore.findPage(filter, { limit: 10, order: 'asc' })).map((doc) => doc.seq)
    t.same(
      stored.filter((doc) => matchesInMemory(filter, doc) === true).map((doc) => doc.seq),
      fromDatabase,
      JSON.stringify(query)
    )
  }
})

t.test('negation, prefix and free text on erased (null), missing and non-ASCII fields: decided as the database decides, or declined', async (t) => {
  const app = await build(t)
  const base = { tenant: 'text', entitytype: 'x', ip: '10.0.0.1', timestamp: new Date(), event_type: 'T' }
  const fields: Array<Record<string, unknown>> = [
    { username: null, location: null, description: null },
    { username: 'Kelvin', location: 'Zürich', description: 'Straße gesperrt' },
    { username: 'anna', location: 'Oslo', description: 'Ausgang \u212A7' },
    { username: 'bob', location: 'New (York)', description: 'a.b*c' }
  ]
  const docs = fields.map((value, i) => ({ ...base, ...value, seq: i + 1, idem_key: `k${i}`, _id: new ObjectId() }))
  t.ok((await app.eventStore.insertMany(docs as unknown as StoredEvent[])).every((outcome) => outcome.ok), 'stored')
  const stored = await app.eventStore.findPage(toEventFilter('text', {}), { limit: 10, order: 'asc' })
  const queries: Array<Record<string, unknown>> = [
    { username_not: ['bob'] },
    { username_prefix: ['K'] },
    { location_prefix: ['New (Y'] },
    { username_not_prefix: ['K'] },
    { location_not_prefix: ['New (', 'Z'] },
    { q: 'a.b*' },
    { q: '(york)' },
    { q: 'zür' },
    { q: 'k7' },
    { q: 'gesperrt' },
    { q: 'strasse' }
  ]
  const undecided: string[] = []
  for (const query of queries) {
    const filter = toEventFilter('text', query)
    const fromDatabase = (await app.eventStore.findPage(filter, { limit: 10, order: 'asc' })).map((doc) => doc.seq)
    for (const doc of stored) {
      const matched = matchesInMemory(filter, doc)
      if (matched === UNDECIDED) undecided.push(`${JSON.stringify(query)} on ${doc.seq}`)
      else t.equal(matched, fromDatabase.includes(doc.seq), `${JSON.stringify(query)} on seq ${doc.seq}`)
    }
  }
  // a miss beside non-ASCII text is declined (case folding beyond ASCII differs between engines); every hit is decided
  t.ok(undecided.every((entry) => /"q":"(k7|zür|strasse|gesperrt|a\.b\*|\(york\))"/.test(entry)), undecided.join('; '))
  t.ok(undecided.length > 0 && undecided.length < queries.length * stored.length, `${undecided.length} declined`)
  t.equal(matchesInMemory(toEventFilter('text', { q: 'gesperrt' }), stored[1] as StoredEvent, 'index'), UNDECIDED,
    "with MongoDB's text index, free text is always the database's to decide")
})
