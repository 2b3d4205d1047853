import t from 'tap'
import { bearer, build, userWithToken } from '../helper.js'

/**
 * JSON has no Infinity, but JSON.parse turns a number too large for a double (1e400) into one, which the
 * database cannot store: it is a 400 naming the path, at any depth, in one event or in a batch.
 */
t.test('a number that overflows to Infinity in event_specificdetails is a 400 naming its path', async (t) => {
  const app = await build(t)
  const headers = { ...bearer(await userWithToken(app, { username: 'inf-writer', roles: ['writer'] })), 'content-type': 'application/json' }
  const base = '{"event_type":"A","username":"u","entitytype":"e","ip":"10.0.0.1","location":"l","description":"d","event_specificdetails":'
  const cases: Array<[string, string, string, RegExp]> = [
    ['/events', `${base}{"amount":1e400}}`, 'top-level key', /body\/event_specificdetails\/amount must be a finite number/],
    ['/events', `${base}{"a":{"b":[1,-1e400]}}}`, 'nested in an array', /body\/event_specificdetails\/a\/b\/1 must be a finite number/],
    [
      '/events/batch',
      `{"events":[${base}{}},${base}{"x":1e999}}]}`,
      'batch item 1',
      /body\/events\/1\/event_specificdetails\/x must be a finite number/
    ]
  ]
  for (const [url, payload, name, message] of cases) {
    const res = await app.inject({ method: 'POST', url, headers, payload })
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.match(res.json().message, message, `${name}: the message names the path`)
  }
  t.equal(await app.mongo.db!.collection('events').countDocuments({}), 0, 'nothing stored')
  const ok = await app.inject({ method: 'POST', url: '/events', headers, payload: `${base}{"big":1.7e308,"small":-5e-324}}` })
  t.equal(ok.statusCode, 201, 'the largest finite doubles are fine')
})
