import t from 'tap'
import type { LookupAddress } from 'node:dns'
import { isIP } from 'node:net'
import { AddressPolicy, isInternalAddress, type Resolver } from '../../../src/plugins/app/webhooks/address-policy.js'
import { send } from '../../../src/plugins/app/webhooks/sender.js'
import { build, bearer, userWithToken } from '../../helper.js'

/**
 * Webhooks reach global unicast addresses only (issue #28): every IPv4 special-purpose range, every IPv6 one,
 * and every IPv6 form that carries an internal IPv4 address is refused, at creation (POST /tenant/webhooks → 400)
 * and at connect time (the connection's own DNS answers are judged), while public addresses pass.
 */

/** One or more addresses of every IPv4 special-purpose range. */
const INTERNAL_V4 = [
  '0.0.0.0', '0.1.2.3', // this network
  '10.0.0.1', '10.255.255.254', '172.16.0.1', '172.31.255.254', '192.168.0.1', '192.168.255.254', // private
  '127.0.0.1', '127.1.2.3', '127.255.255.254', // loopback
  '169.254.169.254', '169.254.0.1', // link-local (cloud metadata)
  '100.64.0.1', '100.127.255.254', // carrier-grade NAT
  '224.0.0.1', '239.255.255.250', // multicast
  '255.255.255.255', // broadcast
  '240.0.0.1', '250.1.2.3', // reserved
  '192.0.0.8', '192.0.2.1', '198.51.100.7', '203.0.113.9', // IETF protocol assignments, documentation
  '198.18.0.1', '198.19.255.254', // benchmarking
  '192.88.99.1', // 6to4 relay anycast
  '192.31.196.1', '192.175.48.1' // AS112
]

/** The IPv6 forms that carry an IPv4 address, each of which must be judged by that address. */
function embeddedForms (v4: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number)
  const high = ((a << 8) | b).toString(16)
  const low = ((c << 8) | d).toString(16)
  const teredoHigh = (((a << 8) | b) ^ 0xffff).toString(16)
  const teredoLow = (((c << 8) | d) ^ 0xffff).toString(16)
  return [
    `::ffff:${v4}`, // IPv4-mapped
    `::ffff:${high}:${low}`, // the same, in hex
    `::ffff:0:${v4}`, // SIIT translated (RFC 6145)
    `::${v4}`, // IPv4-compatible (deprecated)
    `64:ff9b::${v4}`, // NAT64 (RFC 6052)
    `64:ff9b::${high}:${low}`,
    `64:ff9b:1::${high}:${low}`, // local-use NAT64 (RFC 8215)
    `2002:${high}:${low}::`, // 6to4
    `2002:${high}:${low}::1`,
    `2001:0:4136:e378:8000:63bf:${teredoHigh}:${teredoLow}` // Teredo: the client, inverted
  ]
}

/** What the probe found accepted, as it wrote them. */
const PROBE = ['::127.0.0.1', '::ffff:0:127.0.0.1', '64:ff9b:1::7f00:1', '2002:7f00:1::', 'fec0::1']

const INTERNAL_V6 = [
  '::', '::1', '::2', // unspecified, loopback, compatible with 0.0.0.2
  'fe80::1', 'febf::1', 'fec0::1', 'feff::1', // link-local, deprecated site-local
  'fc00::1', 'fd12:3456:789a::1', // unique local
  'ff02::1', 'ff05::2', 'ff0e::1', // multicast
  '100::1', // discard-only
  '2001:db8::1', '3fff::1', // documentation
  '2001:2::1', // benchmarking
  '2001:10::1', '2001:20::1', // ORCHID
  '5f00::1', // segment routing
  '4000::1', 'e000::1', '64:ff9b:0:1::1' // outside 2000::/3: not allocated as global unicast
]

const INTERNAL = [...new Set([...INTERNAL_V4, ...INTERNAL_V4.flatMap(embeddedForms), ...PROBE, ...INTERNAL_V6])]

const PUBLIC = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
  '2002:808:808::1',
  '2001:0:4136:e378:8000:63bf:f7f7:f7f7'
]

t.test('every special-purpose address and every IPv6 form of an internal IPv4 is internal; public ones are not', async (t) => {
  t.ok(INTERNAL.length > 250, `${INTERNAL.length} internal forms`)
  for (const address of INTERNAL) t.ok(isInternalAddress(address), `${address} is internal`)
  t.ok(isInternalAddress('fe80::1%eth0'), 'a link-local address with a zone')
  t.ok(isInternalAddress('127.1'), 'a short IPv4 form is no address here')
  t.ok(isInternalAddress('not-an-ip'), 'nor is a name')
  for (const address of PUBLIC) t.notOk(isInternalAddress(address), `${address} is public`)
})

/** A resolver answering every name with the one address: what a hostile DNS server can do. */
function answering (address: string): Resolver {
  return (_hostname, _options, callback) => {
    const answer: LookupAddress[] = [{ address, family: isIP(address) === 6 ? 6 : 4 }]
    setImmediate(() => callback(null, answer))
  }
}

async function connectLookup (policy: AddressPolicy, name: string): Promise<NodeJS.ErrnoException | null> {
  return await new Promise((resolve) => {
    policy.lookupFor(name)(name, { all: true }, (err) => resolve(err))
  })
}

t.test('at connect time, the DNS answers are judged the same way, and the allowlist still opens a host', async (t) => {
  for (const address of INTERNAL) {
    const policy = new AddressPolicy('', answering(address))
    const err = await connectLookup(policy, 'hook.example.com')
    t.equal(err?.code, 'WEBHOOK_ADDRESS_REFUSED', `hook.example.com → ${address} refused when connecting`)
    t.match(await policy.resolveRefusal(new URL('https://hook.example.com/')), /resolves to/, `and when checked at creation: ${address}`)
  }
  for (const address of PUBLIC) {
    const policy = new AddressPolicy('', answering(address))
    t.equal(await connectLookup(policy, 'hook.example.com'), null, `hook.example.com → ${address} passes`)
    t.equal(await policy.resolveRefusal(new URL('https://hook.example.com/')), undefined, `and passes at creation: ${address}`)
  }
  const allowed = new AddressPolicy('hook.internal', answering('10.0.0.7'))
  t.equal(await connectLookup(allowed, 'hook.internal'), null, 'an allowlisted host may resolve to a private address')
  t.equal(allowed.refusal(new URL('http://hook.internal/x')), undefined, 'and be reached over plain http')
  const literal = new AddressPolicy('10.0.0.7')
  t.equal(literal.refusal(new URL('http://10.0.0.7/x')), undefined, 'an allowlisted IP literal too')

  const refused = await send('https://hook.example.com/x', '[]', {}, { timeoutMs: 2000, policy: new AddressPolicy('', answering('::ffff:0:127.0.0.1')) })
  t.notOk(refused.ok, 'a delivery to a name answering an embedded loopback is refused')
  t.match(refused.error, /::ffff:0:127\.0\.0\.1/, refused.error ?? '')
  for (const address of PROBE) {
    const attempt = await send(`https://[${address}]/x`, '[]', {}, { timeoutMs: 2000, policy: new AddressPolicy('') })
    t.notOk(attempt.ok, `a delivery to the literal [${address}] is refused before connecting: ${attempt.error ?? ''}`)
  }
})

t.test('POST /tenant/webhooks refuses every internal IP literal with 400 and accepts public ones', async (t) => {
  const app = await build(t, { config: { WEBHOOK_ALLOW_HOSTS: '', WEBHOOK_MAX_PER_TENANT: 100 } })
  const admin = await userWithToken(app, { username: 'hook-admin', roles: ['admin'], tenant: 'hook-addresses' })
  const literal = (address: string): string => (isIP(address) === 6 ? `https://[${address}]/hook` : `https://${address}/hook`)
  for (const address of INTERNAL) {
    const response = await app.inject({ method: 'POST', url: '/tenant/webhooks', headers: bearer(admin), payload: { url: literal(address) } })
    t.equal(response.statusCode, 400, `${literal(address)} refused`)
    t.equal(response.json().code, 'WEBHOOK_URL_REFUSED', `${literal(address)}: ${response.json().message as string}`)
  }
  for (const address of PUBLIC) {
    const response = await app.inject({ method: 'POST', url: '/tenant/webhooks', headers: bearer(admin), payload: { url: literal(address) } })
    t.equal(response.statusCode, 201, `${literal(address)} accepted`)
    const id = (response.json() as { id: string }).id
    await app.inject({ method: 'DELETE', url: `/tenant/webhooks/${id}`, headers: bearer(admin) })
  }
  // a changed URL is held to the same rule
  const created = await app.inject({ method: 'POST', url: '/tenant/webhooks', headers: bearer(admin), payload: { url: 'https://8.8.8.8/hook' } })
  const id = (created.json() as { id: string }).id
  for (const address of PROBE) {
    const url = literal(address)
    const changed = await app.inject({ method: 'PATCH', url: `/tenant/webhooks/${id}`, headers: bearer(admin), payload: { url } })
    t.equal(changed.statusCode, 400, `PATCH to ${url} refused`)
  }
})
