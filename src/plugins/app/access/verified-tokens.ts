import type { AccessTokenClaims } from '../../external/jwt.js'

/**
 * Bearer tokens that passed every check of their own (signature, registered claims, the lifetime, audience and
 * header policies), by their exact text, until their `exp` and at most `maxAgeMs` after they were checked. Every
 * one of those checks gives the same answer later while the token lives (a signature does not change, `iat` only
 * falls further behind the clock), so a client sending its token with every request has it checked once. What can
 * change is the user (revoked, disabled, re-roled): that is checked on every request, as before. Failures are never
 * kept. fast-jwt's own cache (plugins/external/jwt.ts) still ran @fastify/jwt's request wrapper, a SHA-256 of the
 * token for its key, and our policy checks (a JSON parse of the header) on every request: ~10% of W1's CPU.
 */
export class VerifiedTokens {
  private readonly tokens = new Map<string, { claims: AccessTokenClaims, until: number }>()

  constructor (private readonly maxEntries: number, private readonly maxAgeMs: number) {}

  /** The claims of a token checked before and not expired since (now ≤ exp, as fast-jwt has it), else undefined. */
  get (token: string, now = Date.now()): AccessTokenClaims | undefined {
    const kept = this.tokens.get(token)
    if (kept === undefined) return undefined
    if (now <= kept.until) return kept.claims
    this.tokens.delete(token)
    return undefined
  }

  /** Keeps a token that passed every check at `now`; the oldest is forgotten when full. */
  remember (token: string, claims: AccessTokenClaims, now = Date.now()): void {
    if (this.tokens.size >= this.maxEntries) this.tokens.delete(this.tokens.keys().next().value as string)
    this.tokens.set(token, { claims, until: Math.min(claims.exp * 1000, now + this.maxAgeMs) })
  }

  get size (): number {
    return this.tokens.size
  }
}
