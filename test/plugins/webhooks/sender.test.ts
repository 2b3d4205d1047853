import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AddressPolicy, isInternalAddress } from '../../../src/plugins/app/webhooks/address-policy.js'
import { send, RESPONSE_BODY_LIMIT } from '../../../src/plugins/app/webhooks/sender.js'
import { retryDelay } from '../../../src/plugins/app/webhooks/clock.js'

t.test('internal addresses: loopback, private, link-local, CGNAT, IPv6 and IPv4-mapped forms', async (t) => {
  for (const address of [
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'not-an-ip'
  ]) {
    t.ok(isInternalAddress(address), `${address} is internal`)
  }
  for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) {
    t.notOk(isInternalAddress(address), `${address} is public`)
  }
})

t.test('the address is checked on what the connection resolves: a name of loopback is refused without the allowlist', async (t) => {
  const server = createServer((_req, res) => res.end('ok'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as AddressInfo).port
  let reached = 0
  server.on('request', () => { reached++ })
  // https passes the URL rule; the name is only refused once resolved, at connect time
  const refused = await send(`https://localhost:${port}/hook`, '[]', {}, { timeoutMs: 2000, policy: new AddressPolicy('') })
  t.notOk(refused.ok)
  t.match(refused.error, /localhost resolved to (127\.0\.0\.1|::1), a private, loopback or link-local address/)
  const literal = await send(`http://127.0.0.1:${port}/hook`, '[]', {}, { timeoutMs: 2000, policy: new AddressPolicy('') })
  t.notOk(literal.ok, 'an IP literal (dialled without a lookup) too')
  t.equal(reached, 0, 'nothing reached the server')
  const allowed = await send(`http://127.0.0.1:${port}/hook`, '[]', {}, { timeoutMs: 2000, policy: new AddressPolicy('127.0.0.1') })
  t.ok(allowed.ok, 'allowlisted: delivered')
})

t.test('redirects are not followed and a receiver\'s answer is read only up to a limit', async (t) => {
  let redirected = 0
  const server = createServer((req, res) => {
    if (req.url === '/redirect') { res.writeHead(302, { location: '/elsewhere' }).end(); return }
    if (req.url === '/elsewhere') { redirected++; res.end(); return }
    if (req.url === '/slow') return // never answers
    // an endless answer: the sender must stop reading it
    res.writeHead(500)
    const chunk = Buffer.alloc(65536, 120)
    const pump = (): void => { while (res.write(chunk)) { /* fill */ } res.once('drain', pump) }
    pump()
    res.on('close', () => res.removeAllListeners('drain'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const policy = new AddressPolicy('127.0.0.1')
  const redirect = await send(`${base}/redirect`, '[]', {}, { timeoutMs: 2000, policy })
  t.match(redirect, { ok: false, error: 'HTTP 302: redirects are not followed' })
  t.equal(redirected, 0, 'the target of the redirect was never asked')
  const endless = await send(`${base}/endless`, '[]', {}, { timeoutMs: 60000, policy })
  t.match(endless, { ok: false, error: 'HTTP 500' }, `an endless answer is cut after ${RESPONSE_BODY_LIMIT} bytes, not read to the timeout`)
  const slow = await send(`${base}/slow`, '[]', {}, { timeoutMs: 200, policy })
  t.match(slow, { ok: false, error: 'no answer within 200 ms' })
})

t.test('retry delays double from the base, within the jitter, up to the cap', async (t) => {
  t.equal(retryDelay(1, 1000, 60000, () => 0), 500, 'the least: half the base')
  t.equal(retryDelay(1, 1000, 60000, () => 1), 1000, 'the most: the base')
  t.equal(retryDelay(3, 1000, 60000, () => 1), 4000)
  t.equal(retryDelay(30, 1000, 60000, () => 1), 60000, 'capped')
})
