import t from 'tap'
import { emptyState, fromParams, intervalFor, parseValue, rangeProblem, toParams, withValue, type SearchState } from '../../ui/src/filters.js'
import { ApiError } from '../../ui/src/api.js'
import { withOneRetry } from '../../ui/src/retry.js'

/** The viewer's search state and the API query made from it (ui/src/filters.ts), and how errors read (ui/src/api.ts). */
t.test('a search survives the page URL: every filter, several values, details pairs', async (t) => {
  const state: SearchState = {
    fields: { event_type: 'A, B', username: 'alice', submitted_by: 'writer', event_id: 'e-1' },
    timeStart: '2026-12-01T00:00:00Z',
    timeEnd: '2026-12-02T00:00:00Z',
    details: [{ path: 'card.brand', value: 'visa' }, { path: 'amount', value: '42' }],
    hideAudit: false
  }
  const params = toParams(state)
  t.equal(
    params.toString(),
    'event_type=A&event_type=B&username=alice&submitted_by=writer&event_id=e-1&timeStart=2026-12-01T00%3A00%3A00Z&timeEnd=2026-12-02T00%3A00%3A00Z&details.card.brand=visa&details.amount=42',
    "the API's own parameter names: a repeated field for several values, details.<path>"
  )
  const back = fromParams(params)
  t.same(back, state, 'read back from the URL unchanged')
  t.same(toParams({ fields: { ip: ' , ' }, details: [{ path: ' ', value: 'x' }] }).toString(), '', 'blank values and paths are left out')
})

t.test("the page opened without a search hides the service's own records, and its URL says so", async (t) => {
  const state = fromParams(new URLSearchParams(''))
  t.equal(state.hideAudit, true, 'hidden by default')
  t.equal(toParams(state).toString(), 'event_type_not_prefix=audit.', 'as a filter the URL carries')
  t.same(fromParams(toParams(emptyState())), emptyState(), 'Clear is the same default search')
  t.equal(fromParams(new URLSearchParams('event_type=Rare')).hideAudit, false, 'a URL with a search shows what it says, no more')
  t.same(
    fromParams(new URLSearchParams('event_type_not_prefix=audit.&event_type_not_prefix=Test')).fields,
    { event_type: '!Test*' },
    'the hiding is the toggle, not text in the box'
  )
})

t.test('a field box says exact, not, starts with and does not start with; the URL uses the API names', async (t) => {
  t.same(parseValue('Rare'), { kind: 'is', value: 'Rare' })
  t.same(parseValue('!Rare'), { kind: 'not', value: 'Rare' })
  t.same(parseValue('Acc*'), { kind: 'prefix', value: 'Acc' })
  t.same(parseValue('!audit.*'), { kind: 'not_prefix', value: 'audit.' })
  t.same(parseValue('\\!bang'), { kind: 'is', value: '!bang' }, 'a leading \\! is the character')
  t.same(parseValue('star\\*'), { kind: 'is', value: 'star*' }, 'a trailing \\* is the character')
  t.same(parseValue('!\\!x\\**'), { kind: 'not_prefix', value: '!x*' }, 'both, inside an operator')
  const state: SearchState = { fields: { event_type: 'A, !B, C*, !D*', username: '\\!x, y\\*' }, details: [], q: 'card charged', hideAudit: true }
  const params = toParams(state)
  t.equal(
    params.toString(),
    'event_type=A&event_type_not=B&event_type_prefix=C&event_type_not_prefix=D&username=%21x&username=y*&event_type_not_prefix=audit.&q=card+charged'
  )
  t.same(fromParams(params), state, 'and back, unchanged')
})

t.test('"filter by" narrows a field to the value; "exclude" adds it to what the field excludes', async (t) => {
  const state: SearchState = { fields: { username: 'alice, bob, !carol, ad*' }, details: [] }
  t.equal(withValue(state, 'username', 'is', 'dave').fields.username, '!carol, ad*, dave', 'the exact values give way; the others stay')
  t.equal(withValue(state, 'username', 'not', 'dave').fields.username, 'alice, bob, !carol, ad*, !dave', 'an exclusion is added')
  t.equal(withValue(state, 'event_type', 'not', '!odd*').fields.event_type, '!\\!odd\\*', 'a value with operator characters stays itself')
  t.same(toParams(withValue(state, 'event_type', 'not', '!odd*')).getAll('event_type_not'), ['!odd*'], 'as the API reads it')
})

t.test('a time range is checked before the API is asked', async (t) => {
  t.equal(rangeProblem({ fields: {}, details: [], timeStart: '2026-12-01T10:00:00+01:00' }), null, 'RFC 3339 with an offset')
  t.match(rangeProblem({ fields: {}, details: [], timeStart: 'yesterday' }), /RFC 3339/, 'words are not a time')
  t.match(rangeProblem({ fields: {}, details: [], timeEnd: '2026-12-01' }), /Until/, 'a date alone is not a time either')
  t.match(
    rangeProblem({ fields: {}, details: [], timeStart: '2026-12-02T00:00:00Z', timeEnd: '2026-12-01T00:00:00Z' }),
    /after/,
    'an inverted range'
  )
})

t.test('the histogram interval gives at most 120 bars, never more than the API allows', async (t) => {
  const hour = 3_600_000
  t.equal(intervalFor(0, 15 * 60_000), '1m', '15 minutes in minutes')
  t.equal(intervalFor(0, 24 * hour), '15m', 'a day in quarters of an hour')
  t.equal(intervalFor(0, 7 * 24 * hour), '6h', 'a week in six hours')
  t.equal(
    intervalFor(0, 3650 * 24 * hour),
    '1d',
    'ten years: days, the widest (3650 of them: the API answers that range with a 400 the chart shows)'
  )
})

t.test('errors read as a person needs them: a 503 says when to retry, a 5xx names its request', async (t) => {
  t.equal(
    new ApiError(503, 'QUERY_CAPACITY', 'Too many reads are running for your tenant or on this instance; retry shortly', '1', null).describe(),
    'Too many reads are running for your tenant or on this instance; retry shortly. Try again in 1 s.',
    "the service's message gets its full stop before the next sentence"
  )
  t.equal(
    new ApiError(503, 'QUERY_CAPACITY', 'Too many queries.', '2', null).describe(),
    'Too many queries. Try again in 2 s.',
    'Retry-After in words'
  )
  t.equal(
    new ApiError(503, 'DATABASE_UNAVAILABLE', 'The database is unreachable.', null, 'req-1').describe(),
    'The database is unreachable. Try again shortly. (request req-1)',
    'no Retry-After; the request id'
  )
  t.equal(
    new ApiError(400, 'BAD_REQUEST', 'timeStart must not be after timeEnd', null, 'req-2').describe(),
    'timeStart must not be after timeEnd.',
    'a 4xx is its message'
  )
})

t.test('a 503 with Retry-After is asked again once, after the wait, and said meanwhile', async (t) => {
  const busy = () => new ApiError(503, 'QUERY_CAPACITY', 'Too many reads', '0', null)
  let calls = 0
  const waits: number[] = []
  const answer = await withOneRetry(async () => { if (++calls === 1) throw busy(); return 'page' }, new AbortController().signal, (s) => waits.push(s))
  t.equal(answer, 'page', 'the second answer')
  t.same(waits, [0], 'the wait said once, with Retry-After')

  calls = 0
  await t.rejects(withOneRetry(async () => { calls++; throw busy() }, new AbortController().signal, () => {}), /Too many reads/, 'busy twice: the error')
  t.equal(calls, 2, 'only once again')

  calls = 0
  const notFound = new ApiError(404, 'NOT_FOUND', 'No such event', null, null)
  await t.rejects(withOneRetry(async () => { calls++; throw notFound }, new AbortController().signal, () => {}), notFound)
  t.equal(calls, 1, 'anything but a 503 is not asked again')

  const controller = new AbortController()
  const slow = () => new ApiError(503, 'QUERY_CAPACITY', 'Too many reads', '5', null)
  const waiting = withOneRetry(async () => { throw slow() }, controller.signal, () => controller.abort(new Error('replaced')))
  await t.rejects(waiting, /replaced/, 'a newer search ends the wait')
})
