import t from 'tap'
import { buildApp } from '../../src/app.js'
import { publicCode } from '../../src/plugins/app/http/error-handler.js'
import * as errors from '../../src/errors.js'
import { build, testConfig } from '../helper.js'

t.test('an unknown route answers 404 with the error body', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/nope?x=1' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found', message: 'Route GET /nope not found' })
})

t.test('an unexpected failure is a masked 500 that carries the request id, and its details stay in the log', async (t) => {
  const lines: string[] = []
  const app = await buildApp(
    { config: testConfig() },
    { logger: { level: 'error', stream: { write: (line: string) => lines.push(line) } } }
  )
  t.teardown(() => app.close())
  app.get('/explode', { config: { auth: 'public' } }, async function explode () {
    throw new Error('secret internals: connection string mongodb://user:pw@db')
  })
  await app.ready()

  const res = await app.inject({ method: 'GET', url: '/explode', headers: { 'x-request-id': 'req-123' } })
  t.equal(res.statusCode, 500)
  t.same(res.json(), {
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    error: 'Internal Server Error',
    message: 'Internal Server Error',
    requestId: 'req-123'
  })
  t.notMatch(res.body, /secret internals|mongodb:|at /)
  const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.reqId === 'req-123' && entry.level === 50)
  t.match(logged?.err?.message, /secret internals/, 'the log keeps what the client is not told')
})

t.test('malformed JSON and a wrong content type are 4xx with the error body', async (t) => {
  const app = await build(t)
  const bad = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: '{"username":' })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { statusCode: 400, code: 'INVALID_JSON' })
  const text = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(text.statusCode, 415)
  t.match(text.json(), { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE', error: 'Unsupported Media Type' })
})

t.test('a route without config.auth stops the app from starting: deny by default', async (t) => {
  const app = await buildApp({ config: testConfig() })
  t.teardown(() => app.close())
  t.throws(() => app.get('/undeclared', async () => 'hi'), /declares no config.auth/)
})

t.test('clients get the service\'s own codes, never Fastify\'s', async (t) => {
  const app = await build(t)
  const empty = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: '' })
  t.match(empty.json(), { statusCode: 400, code: 'INVALID_JSON' }, 'an empty JSON body')
  const poisoned = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/json' },
    payload: '{"__proto__":{"x":1}}'
  })
  t.match(poisoned.json(), { statusCode: 400, code: 'INVALID_JSON' }, 'a prototype-poisoning body')
  const badUrl = await app.inject({ method: 'GET', url: '/events/%FF' })
  t.same(
    badUrl.json(),
    { statusCode: 400, code: 'BAD_REQUEST', error: 'Bad Request', message: "'/events/%FF' is not a valid url component" },
    'a URL the router cannot decode'
  )
  const invalid = await app.inject({ method: 'POST', url: '/login', payload: { username: 'admin' } })
  t.same(invalid.json(), {
    statusCode: 400,
    code: 'VALIDATION_FAILED',
    error: 'Bad Request',
    message: "body must have required property 'password'"
  })

  t.equal(publicCode('FST_ERR_VALIDATION', 400), 'VALIDATION_FAILED')
  t.equal(publicCode('FST_ERR_CTP_BODY_TOO_LARGE', 413), 'BODY_TOO_LARGE')
  t.equal(publicCode('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415), 'UNSUPPORTED_MEDIA_TYPE')
  t.equal(publicCode('FST_ERR_SOMETHING_NEW', 400), 'BAD_REQUEST', 'an unknown framework code by its status')
  t.equal(publicCode(undefined, 429), 'RATE_LIMITED')
  t.equal(publicCode('AUTH_FORBIDDEN', 403), 'AUTH_FORBIDDEN', 'ours as they are')
  t.equal(publicCode('FST_WHATEVER', 500), 'INTERNAL_ERROR')
})

t.test('every coded error of src/errors.ts is in ERROR_CODES, the Error schema\'s enum', async (t) => {
  // a new createError('CODE', ...) not added there would reach clients as its status's generic code
  for (const [name, value] of Object.entries(errors)) {
    if (typeof value !== 'function') continue
    const code = (new (value as new (...args: string[]) => { code: string })('x')).code
    t.ok((errors.ERROR_CODES as readonly string[]).includes(code), `${name}: ${code} is documented`)
    t.equal(publicCode(code, 400), code, `${name}: ${code} reaches clients as it is`)
  }
})
