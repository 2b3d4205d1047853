import t from 'tap'
import { connect, type AddressInfo } from 'node:net'
import { build } from '../helper.js'

/**
 * A client that sends its body (or its headers) slowly must not hold a connection for ever: even an
 * unauthenticated POST /login is cut after REQUEST_TIMEOUT_MS (HEADERS_TIMEOUT_MS for the headers).
 */
const REQUEST_TIMEOUT_MS = 1500
const HEADERS_TIMEOUT_MS = 1000

/** Sends `head` (and nothing more), then waits for the server to answer or close; resolves with what it sent and when. */
async function trickle (port: number, head: string, giveUpMs: number): Promise<{ received: string, closedAfterMs: number | null }> {
  return await new Promise((resolve) => {
    const started = Date.now()
    const socket = connect(port, '127.0.0.1', () => socket.write(head))
    let received = ''
    socket.on('data', (chunk) => { received += chunk.toString('latin1') })
    const giveUp = setTimeout(() => { socket.destroy(); resolve({ received, closedAfterMs: null }) }, giveUpMs)
    socket.on('close', () => { clearTimeout(giveUp); resolve({ received, closedAfterMs: Date.now() - started }) })
    socket.on('error', () => {})
  })
}

t.test('a slow body and slow headers are cut off by the request and header timeouts', async (t) => {
  const app = await build(t, { config: { REQUEST_TIMEOUT_MS, HEADERS_TIMEOUT_MS } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  t.equal(app.server.requestTimeout, REQUEST_TIMEOUT_MS, 'requestTimeout is set on the server')
  t.equal(app.server.headersTimeout, HEADERS_TIMEOUT_MS, 'headersTimeout is set on the server')

  const slowBody = await trickle(
    port,
    'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"username":"a',
    8000
  )
  t.not(slowBody.closedAfterMs, null, 'a body that never completes is cut off')
  t.ok(
    (slowBody.closedAfterMs ?? Infinity) < REQUEST_TIMEOUT_MS + 3000,
    `within the request timeout and its check interval (${slowBody.closedAfterMs} ms)`
  )
  t.match(slowBody.received, /^HTTP\/1\.1 408/, 'answered 408 Request Timeout')
  t.match(
    JSON.parse(slowBody.received.slice(slowBody.received.indexOf('\r\n\r\n') + 4)),
    { statusCode: 408, code: 'REQUEST_TIMEOUT', error: 'Request Timeout' },
    'with the Error body and a code'
  )

  const slowHeaders = await trickle(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ', 8000)
  t.not(slowHeaders.closedAfterMs, null, 'headers that never end are cut off')
  t.ok((slowHeaders.closedAfterMs ?? Infinity) < HEADERS_TIMEOUT_MS + 3000, `within the headers timeout (${slowHeaders.closedAfterMs} ms)`)
  t.match(slowHeaders.received, /^HTTP\/1\.1 408[^]*"code":"REQUEST_TIMEOUT"/, 'also a coded 408')
})

t.test('the defaults bound a request: 30 s for the whole request, 10 s for headers', async (t) => {
  const app = await build(t)
  t.equal(app.server.requestTimeout, 30000)
  t.equal(app.server.headersTimeout, 10000)
  t.ok(app.server.timeout > 0, 'the idle socket timeout is set')
})
