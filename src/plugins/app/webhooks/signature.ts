import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Webhook signatures in the Standard Webhooks form (https://www.standardwebhooks.com), as Stripe's: the
 * signed content is `<delivery id>.<timestamp>.<body>`, HMAC-SHA256 under the subscription's secret, sent as
 * `v1,<base64>`. The timestamp is signed so that a receiver can refuse replays of old deliveries.
 */
export const SECRET_PREFIX = 'whsec_'

/** A new subscription secret: 32 random bytes, shown to the admin once. */
export function newSecret (): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64')
}

function keyOf (secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64')
}

export function sign (secret: string, id: string, timestamp: number, body: string): string {
  return 'v1,' + createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')
}

/**
 * What a receiver does (the README shows the same): recompute the signature over the raw body, compare in
 * constant time, and refuse a timestamp more than `toleranceSeconds` from its own clock.
 */
export function verify (
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300
): boolean {
  const timestamp = Number(headers.timestamp)
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false
  const expected = Buffer.from(sign(secret, headers.id, timestamp, body))
  // the header may list several signatures (a secret being rotated), separated by spaces
  return headers.signature.split(' ').some((candidate) => {
    const given = Buffer.from(candidate)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}
