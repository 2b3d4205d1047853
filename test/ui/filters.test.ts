import t from 'tap'
import { fromParams, intervalFor, rangeProblem, toParams, type SearchState } from '../../ui/src/filters.js'
import { ApiError } from '../../ui/src/api.js'

/** The viewer's search state and the API query made from it (ui/src/filters.ts), and how errors read (ui/src/api.ts). */
t.test('a search survives the page URL: every filter, several values, details pairs', async (t) => {
  const state: SearchState = {
    fields: { event_type: 'A, B', username: 'alice', submitted_by: 'writer', event_id: 'e-1' },
    timeStart: '2026-12-01T00:00:00Z',
    timeEnd: '2026-12-02T00:00:00Z',
    details: [{ path: 'card.brand', value: 'visa' }, { path: 'amount', value: '42' }]
  }
  const params = toParams(state)
  t.equal(
    params.toString(),
    'event_type=A&event_type=B&username=alice&submitted_by=writer&event_id=e-1&timeStart=2026-12-01T00%3A00%3A00Z&timeEnd=2026-12-02T00%3A00%3A00Z&details.card.brand=visa&details.amount=42',
    "the API's own parameter names: a repeated field for several values, details.<path>"
  )
  const back = fromParams(params)
  t.same(back, state, 'read back from the URL unchanged')
  t.same(toParams(fromParams(new URLSearchParams(''))).toString(), '', 'an empty search has no parameters')
  t.same(toParams({ fields: { ip: ' , ' }, details: [{ path: ' ', value: 'x' }] }).toString(), '', 'blank values and paths are left out')
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
    'timeStart must not be after timeEnd',
    'a 4xx is its message'
  )
})
