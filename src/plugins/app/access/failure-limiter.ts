/**
 * Counts failed logins per key (a username) in a fixed window. A locked username does not lock out
 * anyone else, and a success clears the count. Held in memory: bounded, and per instance (behind
 * several instances the effective limit is per instance).
 */
export class FailureLimiter {
  private readonly failures = new Map<string, { count: number, windowStart: number }>()

  constructor (private readonly maxFailures: number, private readonly windowMs: number, private readonly maxKeys = 100000) {}

  /** Seconds until the key may try again, or 0 when it may try now. */
  retryAfter (key: string, now = Date.now()): number {
    const entry = this.failures.get(key)
    if (entry === undefined || now - entry.windowStart >= this.windowMs) return 0
    return entry.count >= this.maxFailures ? Math.ceil((entry.windowStart + this.windowMs - now) / 1000) : 0
  }

  recordFailure (key: string, now = Date.now()): void {
    const entry = this.failures.get(key)
    if (entry === undefined || now - entry.windowStart >= this.windowMs) {
      if (this.failures.size >= this.maxKeys) this.failures.delete(this.failures.keys().next().value as string)
      this.failures.set(key, { count: 1, windowStart: now })
    } else {
      entry.count++
    }
  }

  clear (key: string): void {
    this.failures.delete(key)
  }
}

/**
 * (username, client IP) pairs that logged in successfully, for `ttlMs` each: the per-username ceiling holds back
 * guesses spread over many addresses, and an address that already proved the password is not one of them. Only a
 * success adds an entry, so nobody can fill it without the passwords; bounded anyway, the oldest dropped first.
 */
export class KnownAddresses {
  private readonly seen = new Map<string, number>()

  constructor (private readonly ttlMs: number, private readonly maxKeys = 100000) {}

  has (key: string, now = Date.now()): boolean {
    const at = this.seen.get(key)
    return at !== undefined && now - at < this.ttlMs
  }

  add (key: string, now = Date.now()): void {
    if (this.ttlMs <= 0) return
    this.seen.delete(key)
    if (this.seen.size >= this.maxKeys) this.seen.delete(this.seen.keys().next().value as string)
    this.seen.set(key, now)
  }
}
