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

/**
 * The header parameters a token of ours may carry: we issue HS256 tokens with `alg` and `typ` only. Per RFC 8725
 * (§2.1, §3.1, §3.11) nothing in a token chooses how it is verified: a `kid`, `jku`, `jwk`, `x5u`, `x5c` (or any other
 * key reference), a `crit` extension or a nested `cty` is refused rather than ignored, and `typ`, when present, is
 * `JWT` (case-insensitive, as media types are).
 */
const HEADER_PARAMETERS = new Set(['alg', 'typ'])

/** True when the token's protected header is a JSON object of `alg: HS256` and at most `typ: JWT`. */
export function headerWithinPolicy (token: string): boolean {
  const end = token.indexOf('.')
  if (end <= 0) return false
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(token.slice(0, end), 'base64url').toString('utf8'))
  } catch {
    return false
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return false
  const { alg, typ } = header as Record<string, unknown>
  if (alg !== 'HS256') return false
  if (typ !== undefined && (typeof typ !== 'string' || typ.toUpperCase() !== 'JWT')) return false
  return Object.keys(header).every((name) => HEADER_PARAMETERS.has(name))
}

/**
 * `iss` and `aud` as single strings (fast-jwt has checked they equal ours): an `aud` array holding our audience among
 * others is a token meant for several services, which a token of ours never is (RFC 8725 §3.9).
 */
export function audienceWithinPolicy (claims: { iss?: unknown, aud?: unknown }): boolean {
  return typeof claims.iss === 'string' && typeof claims.aud === 'string'
}
