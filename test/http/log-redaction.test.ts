import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import { buildApp, serverOptions } from '../../src/app.js'
import { redactUrl } from '../../src/http/request-log.js'
import { bearer, build, testConfig, userWithToken } from '../helper.js'

/**
 * A credential put in a URL never reaches the service log (issue #28): the token in `?access_token=` is refused,
 * and the `url` of every log line about the request carries `[redacted]` in its place; so does userinfo.
 */
const SECRET = 'S3cr3tValueThatMustNotBeLogged'

interface LoggingApp { app: Awaited<ReturnType<typeof buildApp>>, text: () => string, lines: Array<Record<string, any>> }

async function loggingApp (t: Test): Promise<LoggingApp> {
  await build(t) // schedules this file's database drop
  const lines: Array<Record<string, any>> = []
  let raw = ''
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      raw += chunk.toString()
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    }
  })
  const config = testConfig({ LOG_LEVEL: 'debug' })
  // the service's own logger options (redaction, serializers), writing where the test can read
  const logger = { ...(serverOptions(config).logger as Record<string, unknown>), stream }
  const app = await buildApp({ config }, { logger })
  t.teardown(() => app.close())
  await app.ready()
  return { app, text: () => raw, lines }
}

const CREDENTIAL_QUERIES = [
  `access_token=${SECRET}`,
  `token=${SECRET}`,
  `id_token=${SECRET}`,
  `api_key=${SECRET}`,
  `apikey=${SECRET}`,
  `api-key=${SECRET}`,
  `key=${SECRET}`,
  `password=${SECRET}`,
  `secret=${SECRET}`,
  `client_secret=${SECRET}`,
  `Access-Token=${SECRET}`,
  `ACCESS_TOKEN=${SECRET}`,
  `access%5Ftoken=${SECRET}`,
  `auth=${SECRET}`,
  `authorization=Bearer%20${SECRET}`,
  `jwt=${SECRET}`,
  `session=${SECRET}`,
  `signature=${SECRET}`,
  `details%5Bapi_key%5D=${SECRET}`,
  `event_type=login&access_token=${SECRET}&access_token=${SECRET}2`
]

t.test('credentials in query strings are redacted from every log line, refused or not', async (t) => {
  const { app, text, lines } = await loggingApp(t)
  const reader = await userWithToken(app, { username: 'log-reader', roles: ['reader'] })
  for (const query of CREDENTIAL_QUERIES) {
    const refused = await app.inject({ method: 'GET', url: `/events?${query}` })
    t.equal(refused.statusCode, 401, `a token in the URL is not a token: ${query}`)
    await app.inject({ method: 'GET', url: `/me?${query}`, headers: bearer(reader) })
  }
  // refused before any route: a path that is not a URL, a route that does not exist, a method it does not have
  await app.inject({ method: 'GET', url: `/events/%E0%A4%A?access_token=${SECRET}` })
  await app.inject({ method: 'GET', url: `/no-such-route?token=${SECRET}` })
  await app.inject({ method: 'PUT', url: `/me?api_key=${SECRET}` })
  const requestLines = lines.filter((line) => line.req !== undefined)
  t.ok(requestLines.length >= CREDENTIAL_QUERIES.length * 2, `the requests were logged (${requestLines.length} lines)`)
  t.notOk(text().includes(SECRET), 'the secret is nowhere in the log')
  t.ok(requestLines.some((line) => line.req.url === '/events?access_token=[redacted]'), 'the parameter stays, its value is redacted')
  t.ok(
    requestLines.some((line) => line.req.url === '/events?event_type=login&access_token=[redacted]&access_token=[redacted]'),
    'other parameters are logged as sent'
  )
})

t.test('userinfo in an absolute-form request target is redacted', async (t) => {
  const { app, text, lines } = await loggingApp(t)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = new URL(address)
  await new Promise<void>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(`GET http://user:${SECRET}@127.0.0.1:${port}/health/live?password=${SECRET} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
    })
    socket.on('data', () => {})
    socket.on('end', () => resolve())
    socket.on('error', reject)
  })
  const line = lines.find((l) => l.msg === 'request completed')
  t.ok(line, 'the request was logged')
  t.notOk(text().includes(SECRET), 'the secret is nowhere in the log')
  t.match(line?.req?.url, /\[redacted\]@/, 'the userinfo is replaced')
})

t.test('redactUrl keeps what is not a credential', async (t) => {
  t.equal(redactUrl('/events?event_type=a&afterSeq=3'), '/events?event_type=a&afterSeq=3')
  t.equal(redactUrl('/events'), '/events')
  t.equal(redactUrl('/events?token'), '/events?token=[redacted]', 'a bare name is marked, there is nothing to leak')
  t.equal(redactUrl('https://u:p@host/x?a=1#token=x'), 'https://[redacted]@host/x?a=1', 'userinfo and the fragment go')
  t.equal(redactUrl('/x?%E0%A4%A=1&key=2'), '/x?%E0%A4%A=1&key=[redacted]', 'an undecodable name is kept as sent')
})
