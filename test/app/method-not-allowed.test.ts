import t from 'tap'
import { readFileSync } from 'node:fs'
import type { HTTPMethods } from 'fastify'
import { build } from '../helper.js'

const committed = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>
}

const EVENT_ID = '0123456789abcdef01234567'

t.test('a method the path does not serve gets 405, an Allow header and the Error body', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'DELETE', url: '/events?event_type=A' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'GET, HEAD, POST')
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(res.json(), {
    statusCode: 405,
    code: 'METHOD_NOT_ALLOWED',
    error: 'Method Not Allowed',
    message: 'Route DELETE /events not allowed; this path serves GET, HEAD, POST'
  })
})

t.test('Allow is computed against the concrete URL: parameters, neighbouring routes and POST-only paths', async (t) => {
  const app = await build(t)
  const cases: Array<[HTTPMethods, string, string]> = [
    ['PUT', '/users/alice', 'DELETE, GET, HEAD, PATCH'],
    ['POST', `/events/${EVENT_ID}`, 'GET, HEAD'],
    // a malformed id still names the /events/:id path: the 400 for the id comes only with the right method
    ['PATCH', '/events/not-an-id', 'GET, HEAD'],
    // /events/export is a GET path of its own, even though POST /events/batch sits beside it
    ['POST', '/events/export', 'GET, HEAD'],
    ['PUT', '/events/batch', 'POST'],
    // GET /events/:id would take `batch` as an id: the static POST-only resource wins, as documented
    ['GET', '/events/batch', 'POST'],
    ['HEAD', '/events/batch', 'POST'],
    ['HEAD', '/login', 'POST'],
    ['OPTIONS', '/login', 'POST'],
    ['DELETE', '/health/live', 'GET, HEAD']
  ]
  for (const [method, url, allow] of cases) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 405, `${method} ${url}`)
    t.equal(res.headers.allow, allow, `${method} ${url} allows ${allow}`)
  }
})

t.test('the method alone decides a 405: the body is not read, whatever its type or syntax', async (t) => {
  const app = await build(t)
  const bodies: Array<{ headers: Record<string, string>, payload?: string }> = [
    { headers: { 'content-type': 'application/json' }, payload: '{not json' },
    { headers: { 'content-type': 'text/plain' }, payload: 'hello' },
    { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' },
    // QUERY (RFC 10008) must carry a Content-Type; Fastify would refuse it with 400 before routing
    { headers: {} }
  ]
  for (const [i, { headers, payload }] of bodies.entries()) {
    const method = i === bodies.length - 1 ? 'QUERY' : 'PUT'
    const res = await app.inject({ method: method as HTTPMethods, url: '/events', headers, payload })
    t.equal(res.statusCode, 405, `${method} with ${headers['content-type'] ?? 'no content type'}`)
    t.equal(res.headers.allow, 'GET, HEAD, POST')
  }
})

t.test('405 comes before authentication: the path and its methods are public in the OpenAPI document anyway', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'PUT', url: '/events', headers: { authorization: 'Bearer not-a-token' } })
  t.equal(res.statusCode, 405)
  t.equal(res.json().code, 'METHOD_NOT_ALLOWED')
})

t.test('a path nothing serves is still a 404 without Allow', async (t) => {
  const app = await build(t)
  for (const [method, url] of [
    ['GET', '/nope'],
    ['DELETE', '/events/batch/extra'],
    ['POST', '/users/alice/roles']
  ] as Array<[HTTPMethods, string]>) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.equal(res.headers.allow, undefined)
    t.same(res.json(), { statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found', message: `Route ${method} ${url} not found` })
  }
})

t.test('for every documented path, Allow lists exactly its documented methods (and HEAD beside GET)', async (t) => {
  const app = await build(t)
  for (const [path, item] of Object.entries(committed.paths)) {
    const documented = Object.keys(item).map((method) => method.toUpperCase())
    const expected = [...documented, ...(documented.includes('GET') ? ['HEAD'] : [])].sort()
    const unserved = (['PUT', 'DELETE', 'PATCH', 'POST'] as HTTPMethods[]).find((method) => !expected.includes(method))
    if (unserved === undefined) continue
    const url = path.replace('{username}', 'alice').replace('{id}', EVENT_ID)
    const res = await app.inject({ method: unserved, url })
    t.equal(res.statusCode, 405, `${unserved} ${path}`)
    t.equal(res.headers.allow, expected.join(', '), `${path} allows ${expected.join(', ')}`)
  }
})
