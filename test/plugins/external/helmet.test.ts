import t from 'tap'
import Fastify from 'fastify'
import helmet, { HELMET_OPTIONS, helmetHeaders } from '../../../src/plugins/external/helmet.js'

/** The helmet wrapper on a bare Fastify: which headers, and which only over HTTPS. */
async function bare (trustProxy: boolean) {
  const app = Fastify({ trustProxy })
  await app.register(helmet)
  app.get('/', async () => ({ ok: true }))
  await app.ready()
  return app
}

t.test('over plain HTTP: helmet\'s headers without upgrade-insecure-requests, HSTS or COOP', async (t) => {
  const app = await bare(true)
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/' })
  const csp = String(res.headers['content-security-policy'])
  t.notMatch(csp, /upgrade-insecure-requests/, 'assets are not rewritten to https (Swagger UI by hostname over HTTP)')
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/, 'scripts from the service only, none inline')
  t.match(csp, /style-src 'self' 'unsafe-inline'/, 'Swagger UI sets inline styles')
  t.equal(res.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP')
  t.equal(res.headers['cross-origin-opener-policy'], undefined, 'no COOP over plain HTTP (Chromium ignores it there, with a console error)')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
})

t.test('over HTTPS, as a trusted proxy says with X-Forwarded-Proto: HSTS and COOP as well', async (t) => {
  const app = await bare(true)
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/', headers: { 'x-forwarded-proto': 'https' } })
  t.match(String(res.headers['strict-transport-security']), /^max-age=\d+; includeSubDomains$/)
  t.equal(res.headers['cross-origin-opener-policy'], 'same-origin')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
})

t.test('an untrusted X-Forwarded-Proto is ignored', async (t) => {
  const app = await bare(false)
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/', headers: { 'x-forwarded-proto': 'https' } })
  t.equal(res.headers['strict-transport-security'], undefined)
})

t.test('the headers are computed once, and are what helmet itself would set', async (t) => {
  const headers = helmetHeaders(HELMET_OPTIONS)
  t.same(helmetHeaders(HELMET_OPTIONS), headers, 'the same each time: nothing depends on the request')
  t.ok(Object.keys(headers).length >= 10, `helmet's set (${Object.keys(headers).join(', ')})`)
  t.notOk('x-powered-by' in headers, 'helmet removes, never sets, X-Powered-By')
})
