import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import { bareHost, isInternalAddress, type AddressPolicy } from './address-policy.js'

export interface DeliveryAttempt {
  ok: boolean
  /** What went wrong, for the subscription's last_error: an HTTP status, a timeout, a refused address. */
  error?: string
}

export interface SendOptions {
  timeoutMs: number
  policy: AddressPolicy
}

/** A receiver's answer is read only this far: it says nothing the status does not, and must not hold memory. */
export const RESPONSE_BODY_LIMIT = 4096

/**
 * One POST of a delivery. A 2xx is a success; anything else (a redirect included: none is followed), a
 * timeout or a connection failure is a failure to retry. The connection's own name resolution is checked
 * (AddressPolicy.lookupFor), and an IP literal, which Node dials without a lookup, is checked here.
 */
export async function send (target: string, body: string, headers: Record<string, string>, options: SendOptions): Promise<DeliveryAttempt> {
  const url = new URL(target)
  const refusal = options.policy.refusal(url)
  if (refusal !== undefined) return { ok: false, error: refusal }
  const host = bareHost(url.hostname)
  if (isIP(host) !== 0 && !options.policy.allows(host) && isInternalAddress(host)) {
    return { ok: false, error: `${host} is a private, loopback or link-local address` }
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest
  return await new Promise<DeliveryAttempt>((resolve) => {
    let settled = false
    const done = (attempt: DeliveryAttempt): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      resolve(attempt)
    }
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'audit-log-service-webhooks',
          ...headers
        },
        lookup: options.policy.lookupFor(url.hostname),
        // a fresh connection per delivery: a pooled socket would skip the address check of a later delivery
        agent: false
      },
      (res) => {
        const status = res.statusCode ?? 0
        let read = 0
        res.on('data', (chunk: Buffer) => {
          read += chunk.length
          if (read > RESPONSE_BODY_LIMIT) finish()
        })
        res.on('end', finish)
        res.on('error', finish)
        function finish (): void {
          if (status >= 200 && status < 300) return done({ ok: true })
          done({ ok: false, error: status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}` })
        }
      }
    )
    const timer = setTimeout(() => done({ ok: false, error: `no answer within ${options.timeoutMs} ms` }), options.timeoutMs)
    req.on('error', (err: Error & { code?: string }) =>
      done({ ok: false, error: err.code === 'WEBHOOK_ADDRESS_REFUSED' ? err.message : `connection failed: ${err.code ?? err.message}` })
    )
    req.end(body)
  })
}
