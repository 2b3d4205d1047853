import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { EventInput } from '../../../schemas/event.js'
import type { Principal } from '../access/authorization.js'
import { EventNotWrittenError, OverloadedError } from '../../../errors.js'
import type { EventStore, FirstEvent } from './event-store.js'
import type { HoleReason } from '../../../schemas/hole-reasons.js'
import type { Reservation, Sequencer } from './sequencer.js'
import type { WriteObserver } from '../../../metrics/write-observer.js'
import { contentFingerprint, groupByTenant, placeInLog, toStoredEvent, unstorableReason, type StoredEvent } from './record.js'
import { holeLeafHash } from '../../../verifier/leaf.js'
import { isDatabaseUnreachable } from '../storage/database-errors.js'
import type { Receipt } from '../../../verifier/receipt.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventWriter: EventWriter
  }
}

/**
 * A duplicate carries the first event's seq and timestamp, unless looking them up failed just then. A
 * receipt is added by the sealer, when there is one (integrity/receipts.ts), to outcomes whose seq is known.
 */
export type WriteOutcome =
  | { status: 'created', id: string, seq: number, timestamp: Date, hash: string, receipt?: Receipt }
  | { status: 'duplicate', id: string, seq?: number, timestamp?: Date, hash?: string, conflict?: true, receipt?: Receipt }
  | { status: 'error', error: string, retryable?: true, unstorable?: string, cause?: unknown }

/** Adds receipts to what the writer answers (integrity/receipts.ts). */
export interface Sealer {
  /** Told of each seq range claimed for a bulk write, before the write is sent: it may start what its seal will need. */
  claimed?: (tenant: string, last: number) => void
  /**
   * Adds receipts to the outcomes of one bulk write, once the database acknowledged it and before anyone is
   * answered; `tenants[i]` is the tenant of `outcomes[i]`. It never throws.
   */
  seal: (tenants: string[], outcomes: WriteOutcome[]) => Promise<void>
}

export interface EventWriterOptions {
  /** Most events in one bulk insert; 1 turns group commit off. */
  maxBatch: number
  /** Longest an event waits for company before its batch is written. */
  maxWaitMs: number
  /** Events accepted but not yet acknowledged by the database; beyond it, new ones are refused (503). */
  limit: number
  /** Bulk inserts in flight at once: enough to keep the database busy while the next batch fills. */
  maxInFlight?: number
  /** Told of every bulk insert, settled event and refusal (the metrics: metrics/write-observer.ts). */
  observer?: WriteObserver
}

/**
 * Told of each range of a write once it is settled and its outcome is certain: `events` are stored under
 * their seqs and every other seq of the range holds no event (the followers' tail: streaming/settled-tail.ts).
 */
export type SettledListener = (tenant: string, first: number, count: number, events: StoredEvent[]) => void

/** One request's events: they share one bulk insert, so a request is never half stored and half failed. */
interface Unit {
  docs: StoredEvent[]
  resolve: (outcomes: WriteOutcome[]) => void
  reject: (err: unknown) => void
}

/**
 * The one write path: every stored event, one event or a client's batch, goes through `write`.
 *
 * Group commit. Concurrent requests are coalesced into one unordered `insertMany`, written when the
 * batch is full or the oldest event has waited `maxWaitMs`, and while fewer than `maxInFlight` writes are
 * outstanding (so batches grow by themselves when the database is the bottleneck). Each caller's
 * promise settles only when the write holding its events is acknowledged, or failed: an event is never
 * answered 2xx before the database has it.
 */
export class EventWriter {
  private waiting: Unit[] = []
  private waitingEvents = 0
  private timer: NodeJS.Timeout | undefined
  private inFlight = 0
  private outstanding = 0
  private readonly drained: Array<() => void> = []
  private readonly recent = new Map<string, FirstEvent>()
  private readonly settledListeners = new Set<SettledListener>()
  private sealer: Sealer | undefined
  readonly maxInFlight: number

  constructor (
    private readonly store: EventStore,
    private readonly sequencer: Sequencer,
    readonly options: EventWriterOptions,
    private readonly log?: FastifyBaseLogger
  ) {
    // batch size 1 means "group commit off": every request writes on its own, as a naive service would
    this.maxInFlight = options.maxInFlight ?? (options.maxBatch === 1 ? Infinity : 4)
  }

  /** Hears every settled range of this replica's writes whose outcome is certain, until the returned function is called. */
  onSettled (listener: SettledListener): () => void {
    this.settledListeners.add(listener)
    return () => {
      this.settledListeners.delete(listener)
    }
  }

  /** From now on, every bulk write's outcomes pass through `sealer` before they are answered. */
  sealWith (sealer: Sealer): void {
    this.sealer = sealer
  }

  /** Events accepted and not yet settled. */
  get depth (): number {
    return this.outstanding
  }

  /**
   * Records the events of one request, all received at `receivedAt`; their outcomes in input order. `schemaVersions[i]`
   * is the version of its type's schema event i passed (ingest checks them: plugins/app/event-types/).
   */
  async write (
    principal: Pick<Principal, 'tenant' | 'username'>,
    inputs: EventInput[],
    receivedAt = new Date(),
    schemaVersions: Array<number | undefined> = []
  ): Promise<WriteOutcome[]> {
    return await this.submit(inputs.map((input, i) => toStoredEvent(input, principal, receivedAt, schemaVersions[i])))
  }

  /**
   * Queues stored-form events as one unit; refused (503) when the queue is full. An event that cannot be hashed
   * or stored (record.ts, unstorableReason) is answered `error` with its reason at once: it never takes a seq
   * nor a place in a bulk insert it would share with other requests and tenants.
   */
  async submit (docs: StoredEvent[]): Promise<WriteOutcome[]> {
    const reasons = docs.map(unstorableReason)
    if (reasons.every((reason) => reason === undefined)) return await this.enqueue(docs)
    const storable = docs.filter((_, i) => reasons[i] === undefined)
    const outcomes = storable.length === 0 ? [] : await this.enqueue(storable)
    let n = 0
    return reasons.map((reason) => (reason === undefined ? (outcomes[n++] as WriteOutcome) : unstorable(reason)))
  }

  private async enqueue (docs: StoredEvent[]): Promise<WriteOutcome[]> {
    this.reserve(docs.length)
    return await new Promise((resolve, reject) => {
      this.waiting.push({ docs, resolve, reject })
      this.waitingEvents += docs.length
      this.schedule()
    })
  }

  /** Writes everything still waiting and resolves once every accepted event is settled. */
  async drain (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    while (this.waiting.length > 0) this.flush(true)
    if (this.outstanding > 0) await new Promise<void>((resolve) => this.drained.push(resolve))
    await this.sequencer
      .flush()
      .catch((err: unknown) =>
        this.log?.warn({ err }, 'writing the last seq settlements failed; the folder settles them from the stored events')
      )
  }

  private reserve (count: number): void {
    if (this.outstanding + count > this.options.limit) {
      this.options.observer?.refused(count)
      throw new OverloadedError()
    }
    this.outstanding += count
  }

  private release (count: number): void {
    this.outstanding -= count
    if (this.outstanding === 0) this.drained.splice(0).forEach((resolve) => resolve())
  }

  private schedule (): void {
    if (this.waitingEvents >= this.options.maxBatch) {
      this.flush(false)
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.flush(false)
      }, this.options.maxWaitMs)
    }
  }

  /** Starts writes for what is waiting; `force` ignores the in-flight bound (draining at shutdown). */
  private flush (force: boolean): void {
    const limit = force ? Infinity : this.maxInFlight
    while (this.waiting.length > 0 && this.inFlight < limit) {
      const units = this.takeBatch()
      const docs = units.flatMap((unit) => unit.docs)
      this.inFlight++
      this.options.observer?.batchStarted(docs.length)
      let slotFreed = false
      const freeSlot = () => {
        if (slotFreed) return
        slotFreed = true
        this.inFlight--
        // what accumulated while this write was out goes next, without waiting for a timer
        if (this.waiting.length > 0) this.flush(false)
      }
      this.bulkWrite(docs)
        .then(async (outcomes) => {
          // the database is done with this write: the next one starts while this one's receipts are sealed
          // (a seal waits for the signer's record on disk; it must not hold the database's turn)
          freeSlot()
          await this.sealer?.seal(docs.map((doc) => doc.tenant), outcomes)
          return outcomes
        })
        .then(
          (outcomes) => {
            this.options.observer?.settled(outcomes)
            let offset = 0
            for (const unit of units) {
              const own = outcomes.slice(offset, offset + unit.docs.length)
              offset += unit.docs.length
              // a unit whose tenant got no seqs fails with that reason (a request is one tenant's); the others go on
              const failed = own.find((outcome) => outcome.status === 'error' && outcome.cause !== undefined)
              if (failed?.status === 'error') unit.reject(failed.cause)
              else unit.resolve(own)
            }
          },
          (err: unknown) => {
            units.forEach((unit) => unit.reject(err))
            // what waits for this write's turn would reach the same unreachable database, after waiting out this write
            // too: it fails now, so no request waits more than one DB_TIMEOUT_MS for its answer
            if (isDatabaseUnreachable(err)) this.failWaiting(err)
          }
        )
        .finally(() => {
          this.release(docs.length)
          freeSlot()
        })
    }
  }

  /** Fails every unit still waiting for a write (nothing of theirs was sent to the database). */
  private failWaiting (err: unknown): void {
    const units = this.waiting.splice(0)
    if (units.length === 0) return
    clearTimeout(this.timer)
    this.timer = undefined
    const count = units.reduce((sum, unit) => sum + unit.docs.length, 0)
    this.waitingEvents -= count
    units.forEach((unit) => unit.reject(err))
    this.release(count)
  }

  /** Whole units up to maxBatch events; a unit larger than that (a client's batch) goes alone. */
  private takeBatch (): Unit[] {
    const units: Unit[] = []
    let size = 0
    while (this.waiting.length > 0) {
      const next = this.waiting[0] as Unit
      if (units.length > 0 && size + next.docs.length > this.options.maxBatch) break
      units.push(next)
      this.waiting.shift()
      size += next.docs.length
    }
    this.waitingEvents -= size
    return units
  }

  /**
   * One bulk insert of events from any number of requests and tenants, sequenced: the seam where
   * everything that must happen to every stored event happens.
   */
  private async bulkWrite (docs: StoredEvent[], attempt = 1): Promise<WriteOutcome[]> {
    const outcomes: Array<WriteOutcome | undefined> = docs.map(() => undefined)
    // a repeat of an event_id this replica stored recently, or one earlier in this same write, is answered
    // without a write: it would only burn a seq as a recorded hole
    const firstOf = new Map<number, number>()
    const byKey = new Map<string, number>()
    const toWrite: number[] = []
    docs.forEach((doc, i) => {
      const key = recentKey(doc)
      const earlier = byKey.get(key)
      if (earlier !== undefined) return firstOf.set(i, earlier)
      byKey.set(key, i)
      const recent = doc.event_id === undefined ? undefined : this.recent.get(key)
      if (recent !== undefined) outcomes[i] = duplicateOf(doc, recent)
      else toWrite.push(i)
    })

    const { reservations, unreserved, unplaced } = await this.reserveSeqs(toWrite.map((i) => docs[i] as StoredEvent))
    for (const { tenant, first, count } of reservations) this.sealer?.claimed?.(tenant, first + count - 1)
    // why a seq of this write holds no event: every other written seq is its event's leaf
    const holes = new Map<StoredEvent, HoleReason>()
    // an event of a tenant that got no seqs is not written: its request fails with the reason, the others go on.
    // One that got its seq but could not be hashed is not written either: its seq is settled as a hole now, and
    // its request alone gets the error (a throw here would fail every request of the bulk, and leave every
    // claim of it unsettled until SEQUENCE_STALE_MS)
    for (const i of toWrite) {
      const doc = docs[i] as StoredEvent
      if (unreserved.has(doc)) outcomes[i] = { status: 'error', error: 'no seq could be reserved', cause: unreserved.get(doc) }
      const reason = unplaced.get(doc)
      if (reason === undefined) continue
      outcomes[i] = unstorable(reason)
      holes.set(doc, 'write_not_completed')
    }
    const written = toWrite.filter((i) => !unreserved.has(docs[i] as StoredEvent)).map((i) => docs[i] as StoredEvent)
    const inserting = toWrite.filter((i) => !unreserved.has(docs[i] as StoredEvent) && !unplaced.has(docs[i] as StoredEvent))
    const results = inserting.length === 0 ? [] : await this.store.insertMany(inserting.map((i) => docs[i] as StoredEvent))
    const refusedAsDuplicate: number[] = []
    results.forEach((result, n) => {
      const i = inserting[n] as number
      const doc = docs[i] as StoredEvent
      if (result.ok) {
        outcomes[i] = { status: 'created', id: doc._id.toHexString(), seq: doc.seq, timestamp: doc.timestamp, hash: doc.hash as string }
        if (doc.event_id !== undefined) {
          this.remember(doc, {
            id: doc._id.toHexString(),
            seq: doc.seq,
            timestamp: doc.timestamp,
            hash: doc.hash,
            fingerprint: contentFingerprint(doc)
          })
        }
      } else if (result.duplicate) {
        refusedAsDuplicate.push(i)
        // until classified below; one left unconfirmed (answered "retry") is not stored under this seq either
        holes.set(doc, 'write_not_completed')
      } else {
        outcomes[i] = { status: 'error', error: result.error }
        holes.set(doc, 'write_not_completed')
      }
    })
    const { duplicates, collided } = await this.classifyDuplicates(docs, refusedAsDuplicate, outcomes)
    for (const i of duplicates) holes.set(docs[i] as StoredEvent, 'duplicate_event_id')
    // another event holds that seq, one the service did not put there: the position stays a recorded hole
    for (const i of collided) holes.set(docs[i] as StoredEvent, 'seq_taken')
    this.settle(reservations, written, holes)
    if (collided.length > 0) await this.rewrite(docs, collided, outcomes, attempt)
    for (const [i, first] of firstOf) {
      const outcome = outcomes[first] as WriteOutcome
      const doc = docs[i] as StoredEvent
      outcomes[i] =
        outcome.status === 'error' ? outcome : duplicateOf(doc, { ...outcome, fingerprint: contentFingerprint(docs[first] as StoredEvent) })
    }
    return outcomes as WriteOutcome[]
  }

  /**
   * One range per tenant of the write, reserved in parallel, stamped on its events in input order. A tenant
   * whose claim failed is `unreserved` (with the error), and the write goes on for the others; when every
   * claim failed, the write fails as a whole. An event whose leaf hash cannot be computed keeps its seq and
   * is `unplaced` (with the reason): it is not written, and its seq becomes a hole.
   */
  private async reserveSeqs (docs: StoredEvent[]): Promise<{
    reservations: Reservation[], unreserved: Map<StoredEvent, unknown>, unplaced: Map<StoredEvent, string>
  }> {
    const groups = [...groupByTenant(docs, (doc) => doc.tenant)]
    const claims = await Promise.allSettled(groups.map(async ([tenant, own]) => await this.sequencer.reserve(tenant, own.length)))
    const firstFailure = claims.find((claim) => claim.status === 'rejected')
    if (firstFailure !== undefined && claims.every((claim) => claim.status === 'rejected')) throw firstFailure.reason
    const reservations: Reservation[] = []
    const unreserved = new Map<StoredEvent, unknown>()
    const unplaced = new Map<StoredEvent, string>()
    claims.forEach((claim, g) => {
      const [tenant, own] = groups[g] as [string, StoredEvent[]]
      if (claim.status === 'rejected') {
        this.log?.warn({ err: claim.reason, tenant }, 'no seqs could be claimed: this tenant\'s events of the write fail, the others go on')
        for (const doc of own) unreserved.set(doc, claim.reason)
        return
      }
      reservations.push(claim.value)
      own.forEach((doc, n) => {
        try {
          placeInLog(doc, claim.value.first + n)
        } catch (err) {
          doc.seq = claim.value.first + n
          doc.hash = undefined
          this.log?.error({ err, tenant, seq: doc.seq }, 'an event could not be hashed: its seq is a hole, the rest of the write goes on')
          unplaced.set(doc, unstorableReason(doc) ?? ' could not be hashed')
        }
      })
    })
    return { reservations, unreserved, unplaced }
  }

  /**
   * Hands each reserved range to the sequencer as settled: the seqs that hold no event with their
   * reason, and every seq's leaf hash in order (a hole's is the filler leaf), which the folder appends to
   * the tenant's Merkle tree. The events are stored by now; the answer does not wait for the settlement.
   */
  private settle (reservations: Reservation[], written: StoredEvent[], holes: Map<StoredEvent, HoleReason>): void {
    const byTenant = groupByTenant(written, (doc) => doc.tenant)
    this.sequencer.settle(
      reservations.map((reservation) => {
        const own = byTenant.get(reservation.tenant) ?? []
        const leaves = Buffer.alloc(reservation.count * 32)
        const ownHoles: Array<{ seq: number; reason: HoleReason }> = []
        for (const doc of own) {
          const reason = holes.get(doc)
          if (reason !== undefined) ownHoles.push({ seq: doc.seq, reason })
          leaves.write(
            reason === undefined ? (doc.hash as string) : holeLeafHash(doc.tenant, doc.seq),
            (doc.seq - reservation.first) * 32,
            'hex'
          )
        }
        return { ...reservation, holes: ownHoles, leaves }
      })
    )
    if (this.settledListeners.size > 0) this.tellSettled(reservations, byTenant, holes)
  }

  /**
   * A range is certain when each of its seqs holds its event or was refused as a repeated event_id; an
   * insert that failed may or may not have stored its event, and a taken seq holds someone else's.
   */
  private tellSettled (reservations: Reservation[], byTenant: Map<string, StoredEvent[]>, holes: Map<StoredEvent, HoleReason>): void {
    for (const { tenant, first, count } of reservations) {
      const own = byTenant.get(tenant) ?? []
      if (
        own.some((doc) => {
          const reason = holes.get(doc)
          return reason !== undefined && reason !== 'duplicate_event_id'
        })
      ) {
        continue
      }
      const events = own.filter((doc) => !holes.has(doc))
      for (const listener of this.settledListeners) listener(tenant, first, count, events)
    }
  }

  /**
   * A unique-key refusal of an event with an event_id is a repeat: its id, derived from (tenant,
   * event_id), is already taken. The answer needs no lookup: `duplicate` with that id. The first event's
   * seq and timestamp are looked up per tenant, best effort: a lookup that fails or times out only leaves
   * them out, and never changes another event's answer. A lookup that succeeds and finds no first event
   * means the seq was the taken key (two writers raced for it): that event is written again, never
   * answered `duplicate`. An event without event_id can only have lost its seq.
   */
  private async classifyDuplicates (
    docs: StoredEvent[],
    indexes: number[],
    outcomes: Array<WriteOutcome | undefined>
  ): Promise<{ duplicates: number[]; collided: number[] }> {
    const duplicates: number[] = []
    const collided: number[] = indexes.filter((i) => (docs[i] as StoredEvent).event_id === undefined)
    const withEventId = indexes.filter((i) => (docs[i] as StoredEvent).event_id !== undefined)
    await Promise.all(
      [...groupByTenant(withEventId, (i) => (docs[i] as StoredEvent).tenant)].map(async ([tenant, tenantIndexes]) => {
        const keys = tenantIndexes.map((i) => (docs[i] as StoredEvent).idem_key)
        const firsts = await this.store.findByIdempotencyKeys(tenant, keys).catch((err: unknown) => {
          this.log?.warn({ err }, 'looking up the first events of duplicates failed; answering them without seq and timestamp')
          return null
        })
        // a seq of this tenant was taken by another writer in this very write: a refusal is then ambiguous
        const contended = collided.some((i) => (docs[i] as StoredEvent).tenant === tenant)
        for (const i of tenantIndexes) {
          const doc = docs[i] as StoredEvent
          const first = firsts?.get(doc.idem_key)
          if (firsts !== null && first === undefined) {
            collided.push(i)
            continue
          }
          if (firsts === null && contended) {
            outcomes[i] = { status: 'error', error: 'could not confirm whether this event_id is already stored; retry', retryable: true }
            continue
          }
          duplicates.push(i)
          outcomes[i] = duplicateOf(doc, first ?? { id: doc._id.toHexString() })
          if (first !== undefined) this.remember(doc, first)
        }
      })
    )
    return { duplicates, collided }
  }

  /** Events whose seq another writer took are written again, with new seqs, a bounded number of times. */
  private async rewrite (
    docs: StoredEvent[],
    indexes: number[],
    outcomes: Array<WriteOutcome | undefined>,
    attempt: number
  ): Promise<void> {
    if (attempt >= MAX_WRITE_ATTEMPTS) {
      for (const i of indexes) outcomes[i] = { status: 'error', error: 'the sequence was contended; retry', retryable: true }
      return
    }
    // the rest of this write is stored: a rewrite whose claim lost every race fails its own events only
    const again = await this.bulkWrite(
      indexes.map((i) => docs[i] as StoredEvent),
      attempt + 1
    ).catch((err: unknown) => {
      if (!(err instanceof EventNotWrittenError)) throw err
      return indexes.map((): WriteOutcome => ({ status: 'error', error: 'the sequence was contended; retry', retryable: true }))
    })
    indexes.forEach((i, n) => {
      outcomes[i] = again[n]
    })
  }

  private remember (doc: StoredEvent, first: FirstEvent): void {
    const key = recentKey(doc)
    this.recent.delete(key)
    if (this.recent.size >= RECENT_EVENT_IDS) this.recent.delete(this.recent.keys().next().value as string)
    this.recent.set(key, first)
  }
}

const MAX_WRITE_ATTEMPTS = 3

/** The answer of an event that cannot be hashed or stored as it is: not to be retried unchanged. */
function unstorable (reason: string): WriteOutcome {
  return { status: 'error', error: `the event${reason}`, unstorable: reason }
}

/**
 * A repeat answered with the first event: its id, and its seq and timestamp when known. `conflict` when
 * the repeat's content differs from the first event's (known only when the first event could be read):
 * the stored event is unchanged, and the client learns that its two submissions disagree.
 */
function duplicateOf (doc: StoredEvent, first: FirstEvent): WriteOutcome {
  const outcome: WriteOutcome = { status: 'duplicate', id: first.id, seq: first.seq, timestamp: first.timestamp, hash: first.hash }
  if (first.fingerprint !== undefined && first.fingerprint !== contentFingerprint(doc)) outcome.conflict = true
  return outcome
}

/** event_ids remembered per replica, so that a client's retry costs neither a write nor a seq. */
const RECENT_EVENT_IDS = 10000

function recentKey (doc: StoredEvent): string {
  return `${doc.tenant}\0${doc.idem_key}`
}

async function eventWriterPlugin (fastify: FastifyInstance, options: EventWriterOptions) {
  const writer = new EventWriter(fastify.eventStore, fastify.sequencer, options, fastify.log)
  fastify.decorate('eventWriter', writer)
  // onClose runs after in-flight requests end; anything still queued is written before the client closes
  fastify.addHook('onClose', async function flushPendingEvents () {
    await writer.drain()
  })
}

export default fp(eventWriterPlugin, { fastify: '5.x', name: 'event-writer', dependencies: ['event-store', 'sequencer'] })
