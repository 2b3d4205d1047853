import type { EventFilter } from '../events/filter.js'
import { matchesInMemory, UNDECIDED } from '../events/memory-match.js'
import { toPublicEvent, type StoredEvent } from '../events/record.js'
import type { EventStore } from '../events/event-store.js'

/** An event as followers send it: its seq, and its public JSON, made once for every stream and webhook. */
export interface FollowedEvent {
  seq: number
  json: string
}

export interface SettledTailOptions {
  /** The most events kept per followed tenant. */
  maxEvents: number
  /** The most bytes of event JSON kept, over every followed tenant of the replica. */
  maxBytes: number
  /**
   * How long an event is served from memory after it was taken from the write or from the database. An
   * erasure on another replica cannot reach this replica's memory: it waits this long before it is done.
   */
  maxAgeMs: number
}

interface Entry extends FollowedEvent {
  doc: StoredEvent
  /** When its content was taken: the write's settlement, or the start of the read that fetched it. */
  at: number
}

interface Tail {
  /** Every seq in (low, high] is known: an entry, or a seq that holds no event. */
  low: number
  high: number | undefined
  entries: Entry[]
  bytes: number
  /** This replica's own settled writes above `high`, by seq (doc null: the seq holds no event), with when they settled. */
  own: Map<number, { doc: StoredEvent | null, at: number }>
  /** Raised by `forget`: a read of the database begun before it may hold what an erasure has since rewritten. */
  generation: number
  /** The advance under way, so that concurrent ones do not read the same range twice. */
  advancing: Promise<void>
}

/**
 * The recent settled events of the tenants this replica follows, so that streams and webhook deliveries
 * at the tail read them from memory instead of the database: on FerretDB every read of the log is a scan
 * of the whole collection, and seven followers reading at every rise of the settled mark made the
 * database spend ten times as much CPU per ingested event (W7). The tail is filled from this replica's
 * own writes as they settle, and with one read of the database per rise for what other replicas wrote,
 * however many followers the tenant has. A follower behind the tail, or whose filter only the database
 * can decide, reads the database as before. What it answers is what `GET /events?afterSeq=` would.
 */
export class SettledTail {
  private readonly tails = new Map<string, Tail>()
  private bytes = 0

  constructor (
    private readonly store: Pick<EventStore, 'findPage' | 'textSearch'>,
    readonly options: SettledTailOptions,
    private readonly now: () => number = Date.now
  ) {}

  /** Keeps the tenant's tail while it has followers; its first advance starts it at the settled mark. */
  keep (tenant: string): void {
    if (!this.tails.has(tenant)) {
      this.tails.set(tenant, {
        low: 0,
        high: undefined,
        entries: [],
        bytes: 0,
        own: new Map(),
        advancing: Promise.resolve(),
        generation: 0
      })
    }
  }

  drop (tenant: string): void {
    const tail = this.tails.get(tenant)
    if (tail === undefined) return
    this.bytes -= tail.bytes
    this.tails.delete(tenant)
  }

  /**
   * A range of this replica's write, settled: `events` are stored under their seqs, every other seq of the
   * range holds no event. Only for a range whose outcome is certain; any other is left to the database.
   */
  written (tenant: string, first: number, count: number, events: StoredEvent[]): void {
    const tail = this.tails.get(tenant)
    if (tail === undefined) return
    // a tail whose mark stopped rising keeps no unbounded backlog: what it drops is read from the database
    if (tail.own.size + count > this.options.maxEvents) tail.own.clear()
    const at = this.now()
    for (let seq = first; seq < first + count; seq++) if (tail.high === undefined || seq > tail.high) tail.own.set(seq, { doc: null, at })
    for (const doc of events) if (tail.own.has(doc.seq)) tail.own.set(doc.seq, { doc, at })
  }

  /** Forgets what the tenant's tail holds (an erasure rewrote events): followers read the database again. */
  forget (tenant: string): void {
    const tail = this.tails.get(tenant)
    if (tail === undefined || tail.high === undefined) return
    this.bytes -= tail.bytes
    Object.assign(tail, { low: tail.high, entries: [], bytes: 0, generation: tail.generation + 1 })
    tail.own.clear()
  }

  /** Brings the tenant's tail up to the settled mark: from its own writes, else with one read for the range. */
  async advance (tenant: string, settledThrough: number): Promise<void> {
    const tail = this.tails.get(tenant)
    if (tail === undefined) return
    const next = tail.advancing.then(async () => await this.advanceNow(tenant, tail, settledThrough))
    tail.advancing = next.catch(() => {})
    await next
  }

  /**
   * The events matching `filter` after its `afterSeq` up to its `settledThrough`, at most `limit`, as a read
   * of the database would answer; undefined when the tail cannot answer (the position is behind it, or only
   * the database can decide the filter), and the caller reads the database.
   */
  async read (
    filter: EventFilter & { afterSeq: number; settledThrough: number },
    limit: number
  ): Promise<{ events: FollowedEvent[]; reached: number } | undefined> {
    const { afterSeq: position, settledThrough } = filter
    const tail = this.tails.get(filter.tenant)
    if (tail === undefined || tail.high === undefined || position < tail.low) return undefined
    // a fill that fails leaves the read to the database, which says whether it is down
    if (
      settledThrough > tail.high &&
      !(await this.advance(filter.tenant, settledThrough).then(
        () => true,
        () => false
      ))
    ) { return undefined }
    this.expire(tail)
    const high = tail.high
    if (position < tail.low || high === undefined) return undefined
    const through = Math.min(settledThrough, high)
    const events: FollowedEvent[] = []
    for (let i = firstAfter(tail.entries, position); i < tail.entries.length; i++) {
      const entry = tail.entries[i] as Entry
      if (entry.seq > through) break
      const matched = matchesInMemory(filter, entry.doc, this.store.textSearch)
      if (matched === UNDECIDED) return undefined
      if (!matched) continue
      events.push({ seq: entry.seq, json: entry.json })
      if (events.length === limit) return { events, reached: entry.seq }
    }
    return { events, reached: Math.max(position, through) }
  }

  /** Bytes of event JSON held (a test and a health figure). */
  get heldBytes (): number {
    return this.bytes
  }

  private async advanceNow (tenant: string, tail: Tail, settledThrough: number): Promise<void> {
    if (this.tails.get(tenant) !== tail) return
    this.expire(tail)
    if (tail.high === undefined) {
      // started at the mark: what is already settled is read from the database by whoever wants it
      Object.assign(tail, { low: settledThrough, high: settledThrough })
      for (const seq of tail.own.keys()) if (seq <= settledThrough) tail.own.delete(seq)
      return
    }
    if (settledThrough <= tail.high) return
    const from = tail.high
    let known = from
    while (known < settledThrough && tail.own.has(known + 1)) known++
    let docs: StoredEvent[] = []
    let at = this.now()
    if (known === settledThrough) {
      for (let seq = from + 1; seq <= settledThrough; seq++) {
        const own = tail.own.get(seq) as { doc: StoredEvent | null; at: number }
        if (own.doc !== null) docs.push(own.doc)
        at = Math.min(at, own.at)
      }
    } else if (settledThrough - from > this.options.maxEvents) {
      // too far behind to fill: start again at the mark, and leave what lies between to the database
      this.forget(tenant)
      Object.assign(tail, { low: settledThrough, high: settledThrough })
      return
    } else {
      // another replica's events, or a write whose outcome only the database knows: one read for the range
      const generation = tail.generation
      docs = await this.store.findPage({ tenant, afterSeq: from, settledThrough }, { limit: settledThrough - from, order: 'asc' })
      if (this.tails.get(tenant) !== tail || tail.generation !== generation) return
    }
    for (let seq = from + 1; seq <= settledThrough; seq++) tail.own.delete(seq)
    this.append(tail, docs, at)
    tail.high = settledThrough
    this.expire(tail)
  }

  private append (tail: Tail, docs: StoredEvent[], at: number): void {
    // the oldest content decides when an entry expires: keep `at` rising along the tail
    for (let i = tail.entries.length - 1; i >= 0 && (tail.entries[i] as Entry).at > at; i--) (tail.entries[i] as Entry).at = at
    for (const doc of docs) {
      const json = JSON.stringify(toPublicEvent(doc))
      tail.entries.push({ seq: doc.seq, json, doc, at })
      tail.bytes += json.length
      this.bytes += json.length
    }
  }

  /** Drops entries past their age, and the oldest ones beyond the bounds of events and bytes. */
  private expire (tail: Tail): void {
    const now = this.now()
    let drop = 0
    while (drop < tail.entries.length) {
      const entry = tail.entries[drop] as Entry
      const over = tail.entries.length - drop > this.options.maxEvents || this.bytes > this.options.maxBytes
      if (!over && now - entry.at < this.options.maxAgeMs) break
      tail.bytes -= entry.json.length
      this.bytes -= entry.json.length
      drop++
    }
    if (drop === 0) return
    tail.low = (tail.entries[drop - 1] as Entry).seq
    tail.entries.splice(0, drop)
  }
}

/** The index of the first entry with a seq above `position` (entries are in seq order). */
function firstAfter (entries: Entry[], position: number): number {
  let low = 0
  let high = entries.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((entries[middle] as Entry).seq <= position) low = middle + 1
    else high = middle
  }
  return low
}
