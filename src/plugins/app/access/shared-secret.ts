import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * Whether a presented secret equals the configured one, in time that does not depend on where they
 * differ (both are hashed first, so lengths leak nothing either). No configured secret matches nothing.
 */
export function sameSecret (presented: string | undefined, configured: string | undefined): boolean {
  if (presented === undefined || configured === undefined) return false
  return timingSafeEqual(digest(presented), digest(configured))
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
