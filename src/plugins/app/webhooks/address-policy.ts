import { BlockList, isIP } from 'node:net'
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'

/**
 * Where webhooks may go. Only https, to public addresses, unless the host is in WEBHOOK_ALLOW_HOSTS (tests
 * and in-cluster receivers). The address is checked when the connection is made, from the name's resolution
 * that very connection uses, so a name that resolves to a public address when the subscription is created
 * and to an internal one later (DNS rebinding) still cannot reach internal services.
 */
const INTERNAL = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4]
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4')
}
for (const [network, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6')
}

/** Loopback, private, link-local, carrier-grade NAT, multicast or unspecified: not a place a webhook may go. */
export function isInternalAddress (address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return isInternalAddress(mapped[1] as string)
  const family = isIP(address)
  if (family === 0) return true
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

export class AddressPolicy {
  private readonly allowed: Set<string>

  constructor (allowHosts: string) {
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
      dnsLookup(url.hostname, { all: true }, (err, found) => (err === null ? resolve(found) : reject(err)))
    ).catch(() => null)
    if (addresses === null) return `${url.hostname} does not resolve`
    const internal = addresses.find((entry) => isInternalAddress(entry.address))
    return internal === undefined ? undefined : `${url.hostname} resolves to ${internal.address}, a private, loopback or link-local address`
  }

  /** The `lookup` of the connection: resolves the name and refuses internal addresses, so the check is on what is dialled. */
  lookupFor (hostname: string): LookupFunction {
    const allowed = this.allows(hostname)
    return function checkedLookup (name, options, callback) {
      dnsLookup(name, { ...options, all: true }, (err, addresses) => {
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
