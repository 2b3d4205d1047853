import { isIP } from 'node:net'
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns'
import type { LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'

/**
 * Where webhooks may go. Only https, to global unicast addresses, unless the host is in WEBHOOK_ALLOW_HOSTS (tests
 * and in-cluster receivers). The address is checked when the connection is made, from the name's resolution
 * that very connection uses, so a name that resolves to a public address when the subscription is created
 * and to an internal one later (DNS rebinding) still cannot reach internal services.
 *
 * What is global is not a list kept here: ipaddr.js (a maintained classification of the IANA special-purpose
 * registries) names every special range, and only its `unicast` (no special range) passes, in 2000::/3 for IPv6.
 * An IPv6 address that carries an IPv4 address (mapped, translated, compatible, 6to4, NAT64, Teredo) is judged by
 * that IPv4 address, the one the packets end up at.
 */

/** 2000::/3, the only IPv6 block IANA allocates as global unicast. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3')
/**
 * RFC 8215's local-use NAT64 prefix: never global (IANA), whatever IPv4 it carries, and where it carries it depends on
 * the site's prefix length.
 */
const LOCAL_NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b:1::/48')

/** Loopback, private, link-local, carrier-grade NAT, multicast, reserved, unspecified, not an IP: anything not global unicast. */
export function isInternalAddress (address: string): boolean {
  if (!ipaddr.isValid(address) || isIP(address.replace(/%.*$/, '')) === 0) return true
  return !isGlobalUnicast(ipaddr.parse(address))
}

function isGlobalUnicast (address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  if (address.kind() === 'ipv4') return address.range() === 'unicast'
  const v6 = address as ipaddr.IPv6
  if (v6.match(LOCAL_NAT64)) return false
  const embedded = embeddedIPv4(v6)
  if (embedded !== undefined) return isGlobalUnicast(embedded)
  return v6.range() === 'unicast' && v6.match(GLOBAL_UNICAST_V6)
}

/**
 * The IPv4 address an IPv6 address carries, for the forms that route to one: IPv4-mapped (::ffff:0:0/96), SIIT
 * translated (::ffff:0:0:0/96), IPv4-compatible (::/96, deprecated), NAT64 (64:ff9b::/96: the last 32 bits),
 * 6to4 (2002::/16: bits 16 to 47) and Teredo (2001::/32: the client, the last 32 bits inverted).
 */
export function embeddedIPv4 (address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = address.parts
  const v4 = (high: number, low: number): ipaddr.IPv4 => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])
  const zeros = (from: number, to: number): boolean => p.slice(from, to).every((part) => part === 0)
  const [, , , , , , high = 0, low = 0] = p
  switch (address.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
    case 'rfc6052':
      return v4(high, low)
    case '6to4':
      return v4(p[1] ?? 0, p[2] ?? 0)
    case 'teredo':
      return v4(high ^ 0xffff, low ^ 0xffff)
  }
  // IPv4-compatible: 96 zero bits; `::` and `::1` are themselves (unspecified, loopback)
  if (zeros(0, 6) && (high !== 0 || low > 1)) return v4(high, low)
  return undefined
}

/** How names are resolved: the system's resolver (`dns.lookup`, what a connection uses); tests give their own answers. */
export type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void
) => void

export class AddressPolicy {
  private readonly allowed: Set<string>

  constructor (allowHosts: string, private readonly resolve: Resolver = dnsLookup) {
    this.allowed = new Set(allowHosts.split(',').map((host) => host.trim().toLowerCase()).filter((host) => host !== ''))
  }

  allows (hostname: string): boolean {
    return this.allowed.has(bareHost(hostname))
  }

  /** Why a URL may not be a webhook target, or undefined when it may (the address is checked again at connect time). */
  refusal (url: URL): string | undefined {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'url must be https'
    if (url.username !== '' || url.password !== '') return 'url must not carry credentials'
    if (this.allows(url.hostname)) return undefined
    if (url.protocol !== 'https:') return 'url must be https (plain http only for hosts in WEBHOOK_ALLOW_HOSTS)'
    const host = bareHost(url.hostname)
    if (isIP(host) !== 0 && isInternalAddress(host)) return `${host} is a private, loopback or link-local address`
    return undefined
  }

  /** The resolution of a name, refused when any of its addresses is internal (for a host not allowlisted). */
  async resolveRefusal (url: URL): Promise<string | undefined> {
    if (this.allows(url.hostname) || isIP(bareHost(url.hostname)) !== 0) return undefined
    const addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
      this.resolve(url.hostname, { all: true }, (err, found) => (err === null ? resolve(found) : reject(err)))
    ).catch(() => null)
    if (addresses === null) return `${url.hostname} does not resolve`
    const internal = addresses.find((entry) => isInternalAddress(entry.address))
    return internal === undefined ? undefined : `${url.hostname} resolves to ${internal.address}, a private, loopback or link-local address`
  }

  /** The `lookup` of the connection: resolves the name and refuses internal addresses, so the check is on what is dialled. */
  lookupFor (hostname: string): LookupFunction {
    const allowed = this.allows(hostname)
    const resolve = this.resolve
    return function checkedLookup (name, options, callback) {
      resolve(name, { ...options, all: true }, (err, addresses) => {
        if (err !== null) return callback(err, '', 0)
        const list = addresses
        const internal = allowed ? undefined : list.find((entry) => isInternalAddress(entry.address))
        if (internal !== undefined) {
          return callback(
            Object.assign(new Error(`${name} resolved to ${internal.address}, a private, loopback or link-local address`), {
              code: 'WEBHOOK_ADDRESS_REFUSED'
            }),
            '',
            0
          )
        }
        if (options.all === true) return callback(null, list as unknown as string, 0)
        const first = list[0]
        if (first === undefined) return callback(Object.assign(new Error(`${name} has no address`), { code: 'ENOTFOUND' }), '', 0)
        callback(null, first.address, first.family)
      })
    }
  }
}

/** A URL's hostname without the brackets of an IPv6 literal, lower-cased. */
export function bareHost (hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
}
