import t from 'tap'
import { buildApp } from '../../src/app.js'
import { build, testConfig } from '../helper.js'

t.test('an unknown route answers 404 with the error body', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/nope?x=1' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found', message: 'Route GET /nope not found' })
})

t.test('an unexpected failure is a masked 500 that carries the request id, and its details stay in the log', async (t) => {
  const lines: string[] = []
  const app = await buildApp({ config: testConfig() }, { logger: { level: 'error', stream: { write: (line: string) => lines.push(line) } } })
  t.teardown(() => app.close())
  app.get('/explode', { config: { auth: 'public' } }, async function explode () {
    throw new Error('secret internals: connection string mongodb://user:pw@db')
  })
  await app.ready()

  const res = await app.inject({ method: 'GET', url: '/explode', headers: { 'x-request-id': 'req-123' } })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, code: 'INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal Server Error', requestId: 'req-123' })
  t.notMatch(res.body, /secret internals|mongodb:|at /)
  const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.reqId === 'req-123' && entry.level === 50)
  t.match(logged?.err?.message, /secret internals/, 'the log keeps what the client is not told')
})

t.test('malformed JSON and a wrong content type are 4xx with the error body', async (t) => {
  const app = await build(t)
  const bad = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: '{"username":' })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' })
  const text = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(text.statusCode, 415)
  t.match(text.json(), { statusCode: 415, error: 'Unsupported Media Type' })
})

t.test('a route without config.auth stops the app from starting: deny by default', async (t) => {
  const app = await buildApp({ config: testConfig() })
  t.teardown(() => app.close())
  t.throws(() => app.get('/undeclared', async () => 'hi'), /declares no config.auth/)
})
