/**
 * Checks on a verified token's claims that fast-jwt does not make: it requires none of `jti`, refuses no
 * `iat` in the future and bounds no lifetime, so a token signed with the key (a leaked key, a bug in an
 * issuer) with `exp` ten years ahead would be good for ten years.
 */
export const CLOCK_SKEW_SECONDS = 30

export interface TokenTimes {
  iat?: unknown
  exp?: unknown
  jti?: unknown
}

/** True when `jti` is a non-empty string, `iat` is not ahead of `now` by more than the skew, and `exp - iat` ≤ ttl + skew. */
export function claimsWithinPolicy (claims: TokenTimes, ttlSeconds: number, nowSeconds = Date.now() / 1000): boolean {
  const { iat, exp, jti } = claims
  if (typeof jti !== 'string' || jti === '') return false
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp)) return false
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS) return false
  return exp - iat <= ttlSeconds + CLOCK_SKEW_SECONDS
}
