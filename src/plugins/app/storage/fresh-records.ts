/**
 * Records read from the database and trusted for `maxAgeMs`: users and API keys behind the credentials of
 * requests (AUTH_CACHE_MS), a log's access setting; so most requests make no database round trip, and a change
 * applies on every replica within that time. At most `maxEntries` are kept, the oldest dropped first.
 */
export class FreshRecords<T> {
  private readonly entries = new Map<string, { value: T | null, fetchedAt: number }>()
  /** Reads in flight, by key: at most one per record at a time (see get). */
  private readonly reading = new Map<string, { since: number, read: Promise<T | null> }>()

  constructor (private readonly maxAgeMs: number, private readonly maxEntries: number) {}

  /** The record as last read, if that was less than `maxAgeMs` ago (null: there was none); undefined otherwise. */
  peek (key: string): T | null | undefined {
    const hit = this.entries.get(key)
    return hit !== undefined && Date.now() - hit.fetchedAt < this.maxAgeMs ? hit.value : undefined
  }

  /** The record, from the cache while fresh, else by `read`. */
  async get (key: string, read: () => Promise<T | null>): Promise<T | null> {
    const fresh = this.peek(key)
    if (fresh !== undefined) return fresh
    // requests that miss together share one read (under load, each of a client's 200 requests in flight read the user
    // when its entry expired): its answer is the cache entry it makes, which would serve them anyway, so only a read
    // begun less than maxAgeMs ago is joined
    const pending = this.reading.get(key)
    if (pending !== undefined && Date.now() - pending.since < this.maxAgeMs) return await pending.read
    // stamped when the read starts, not when it answers: a read that began before a revocation and answered after
    // it must not be trusted for a whole maxAgeMs past the revocation
    const fetchedAt = Date.now()
    const reading = read()
    this.reading.set(key, { since: fetchedAt, read: reading })
    try {
      const value = await reading
      // unless forgotten meanwhile: what it read may be older than the change that made this replica forget it
      if (this.reading.get(key)?.read === reading) {
        this.entries.delete(key)
        if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
        this.entries.set(key, { value, fetchedAt })
      }
      return value
    } finally {
      if (this.reading.get(key)?.read === reading) this.reading.delete(key)
    }
  }

  /** Drops what this replica holds of the record, and any read of it in flight: it has just changed it. */
  forget (key: string): void {
    this.entries.delete(key)
    this.reading.delete(key)
  }
}
