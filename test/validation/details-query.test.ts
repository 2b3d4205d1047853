import t from 'tap'
import { parseQueryString } from '../../src/validation/details-query.js'

t.test('details[...] keys become the dotted spelling; everything else is Fastify\'s parse', async (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['details[account_number]=94859', { 'details.account_number': '94859' }],
    ['details[card][brand]=visa', { 'details.card.brand': 'visa' }],
    ['details[card.brand]=visa', { 'details.card.brand': 'visa' }],
    ['details%5Bcard%5D%5Bbrand%5D=visa', { 'details.card.brand': 'visa' }],
    ['details[card][brand:exists]=true', { 'details.card.brand:exists': 'true' }],
    ['details[a]=1&details[a]=2', { 'details.a': ['1', '2'] }],
    ['details[a]=1&details.a=2', { 'details.a': ['2', '1'] }],
    ['details.a=1', { 'details.a': '1' }],
    ['event_type=A&event_type=B&limit=2', { event_type: ['A', 'B'], limit: '2' }],
    // not the bracket form: left as they are, for validation to refuse as unknown parameters
    ['details=x', { details: 'x' }],
    ['details[a]b=1', { 'details[a]b': '1' }],
    ['details[a[b]]=1', { 'details[a[b]]': '1' }],
    ['username[$ne]=x', { 'username[$ne]': 'x' }],
    // the bracket form with segments validation refuses
    ['details[]=1', { 'details.': '1' }],
    ['details[$where]=1', { 'details.$where': '1' }]
  ]
  for (const [text, expected] of cases) t.same({ ...parseQueryString(text) }, expected, text)
})
