import t from 'tap'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'
import { BATCH_BODY_LIMIT, EVENT_BODY_LIMIT, LARGEST_EVENT_BYTES, LOGIN_BODY_LIMIT, USER_BODY_LIMIT } from '../../src/http/body-limits.js'
import { MAX_BATCH } from '../../src/schemas/event.js'

/** Each route reads at most what its schema allows; concurrent large batches share a bounded budget. */

const json = { 'content-type': 'application/json' }

t.test('each body-taking route has its own limit: login and users a few KiB, one event ~48 KiB, a batch 1000 of those', async (t) => {
  const app = await build(t)
  const admin = { ...bearer(await userWithToken(app, { username: 'limits-admin', roles: ['admin', 'writer'] })), ...json }

  const login = await app.inject({
    method: 'POST',
    url: '/login',
    headers: json,
    payload: JSON.stringify({ username: 'x', password: 'p'.repeat(LOGIN_BODY_LIMIT) })
  })
  t.equal(login.statusCode, 413, 'POST /login over its limit (unauthenticated) is 413, not parsed')
  t.equal(login.json().code, 'BODY_TOO_LARGE')
  const user = await app.inject({
    method: 'POST',
    url: '/users',
    headers: admin,
    payload: JSON.stringify({ username: 'x', password: 'p'.repeat(USER_BODY_LIMIT), roles: ['reader'] })
  })
  t.equal(user.statusCode, 413, 'POST /users over its limit')
  const change = await app.inject({
    method: 'PATCH',
    url: '/users/limits-admin',
    headers: admin,
    payload: JSON.stringify({ password: 'p'.repeat(USER_BODY_LIMIT) })
  })
  t.equal(change.statusCode, 413, 'PATCH /users/{username} over its limit')

  for (const url of ['/events', '/event']) {
    const big = await app.inject({
      method: 'POST',
      url,
      headers: admin,
      payload: JSON.stringify(sampleEvent({ event_specificdetails: { blob: 'x'.repeat(EVENT_BODY_LIMIT) } }))
    })
    t.equal(big.statusCode, 413, `POST ${url} over one event's limit`)
  }
  // the largest event the schema accepts, in compact UTF-8, fits
  const euro = (n: number) => '€'.repeat(n)
  const largest = sampleEvent({
    event_type: euro(128),
    username: euro(256),
    entitytype: euro(128),
    location: euro(256),
    description: euro(4096),
    event_id: euro(128),
    occurred_at: '2024-01-01T00:00:00.000+00:00',
    ip: 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255'
  })
  const detailsBudget = 32 * 1024 - Buffer.byteLength('{"blob":""}')
  largest.event_specificdetails = { blob: 'x'.repeat(detailsBudget) }
  const largestText = JSON.stringify(largest)
  t.ok(
    Buffer.byteLength(largestText) <= LARGEST_EVENT_BYTES && LARGEST_EVENT_BYTES <= EVENT_BODY_LIMIT,
    `the largest valid event (${Buffer.byteLength(largestText)} bytes) is within the estimate and the limit`
  )
  const accepted = await app.inject({ method: 'POST', url: '/events', headers: admin, payload: largestText })
  t.equal(accepted.statusCode, 201, 'and is accepted')
  t.ok(BATCH_BODY_LIMIT >= MAX_BATCH * (Buffer.byteLength(largestText) + 1), 'a batch of 1000 of them fits the batch limit')

  const tooBig = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: admin,
    payload: `{"events":[${'1,'.repeat(BATCH_BODY_LIMIT / 2)}1]}`
  })
  t.equal(tooBig.statusCode, 413, 'a batch body over the batch limit is 413')
})

/** Opens a batch request over a real socket and sends only half its body: the request stays in flight. */
async function halfSentBatch (port: number, token: string, bytes: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(
    `POST /events/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`
  )
  socket.write('{"events":[' + ' '.repeat(bytes / 2))
  socket.on('error', () => {})
  return socket
}

t.test('concurrent large batches share BATCH_BYTES_IN_FLIGHT: beyond it a fast 503 with Retry-After', async (t) => {
  const app = await build(t, { config: { BATCH_BYTES_IN_FLIGHT: 1024 * 1024 } })
  const token = await userWithToken(app, { username: 'budget-writer', roles: ['writer'] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const batch = (n: number) =>
    JSON.stringify({ events: Array.from({ length: n }, () => sampleEvent({ event_specificdetails: { pad: 'x'.repeat(2000) } })) })

  const holding = await halfSentBatch(port, token, 900 * 1024)
  await sleep(200)
  const refused = await app.inject({ method: 'POST', url: '/events/batch', headers: { ...bearer(token), ...json }, payload: batch(100) })
  t.equal(refused.statusCode, 503, 'a batch that does not fit beside the one in flight is refused')
  t.equal(refused.json().code, 'SERVICE_OVERLOADED')
  t.ok(Number(refused.headers['retry-after']) > 0, 'with Retry-After')
  t.equal(
    (await app.inject({ method: 'POST', url: '/events', headers: { ...bearer(token), ...json }, payload: sampleEvent() })).statusCode,
    201,
    'single events are not held up'
  )

  holding.destroy()
  await sleep(200)
  const after = await app.inject({ method: 'POST', url: '/events/batch', headers: { ...bearer(token), ...json }, payload: batch(100) })
  t.equal(after.statusCode, 200, 'once the first is gone (here: its client went away), the budget is back')
  const alone = await app.inject({ method: 'POST', url: '/events/batch', headers: { ...bearer(token), ...json }, payload: batch(600) })
  t.equal(alone.statusCode, 200, 'a batch larger than the whole budget is still taken when nothing else is in flight')
})

t.test('reads and other routes without a body of their own never draw on the batch budget', async (t) => {
  // 20 scans at once on a busy shared machine can pass the default 5 s query limit: a 503 about load, not about the budget
  const app = await build(t, { config: { BATCH_BYTES_IN_FLIGHT: 65536, QUERY_MAX_TIME_MS: 60_000 } })
  const headers = bearer(await userWithToken(app, { username: 'budget-reader', roles: ['reader'] }))
  const answers = await Promise.all(
    Array.from({ length: 20 }, async () => await app.inject({ method: 'GET', url: '/events?limit=5', headers }))
  )
  t.same([...new Set(answers.map((res) => res.statusCode))], [200], '20 concurrent reads are all answered')
  t.ok(app.hasRoute({ method: 'GET', url: '/events' }))
})
