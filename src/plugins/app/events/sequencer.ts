import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Binary, Collection, Db } from 'mongodb'
import { ensureIndexes, hasIndex } from '../storage/indexes.js'
import { insertIgnoringDuplicates, insertUnique, isDuplicateKey } from '../storage/duplicate-key.js'
import { VersionedRecords } from '../storage/versioned-records.js'
import { runBackingOff } from '../storage/periodic.js'
import type { StoredEvent } from './record.js'
import type { HoleReason } from '../../../schemas/hole-reasons.js'
import { holeLeafHash } from '../../../verifier/leaf.js'
import { assignMissingSeqs } from './seq-migration.js'
import { SEQ_INDEX } from './event-store.js'
import { isDatabaseUnreachable } from '../storage/database-errors.js'
import { EventNotWrittenError } from '../../../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    sequencer: Sequencer
  }
}

/**
 * A fold's mark: every seq of the tenant up to `committed` is settled (stored or a recorded hole). The
 * tenant's counter is the highest of its marks. Marks are inserted, never updated: FerretDB 1.24 loses
 * concurrent updates of one document, and two replicas' folders writing `$max` to one counter could set it
 * back below ranges whose settlements one of them had already deleted, which would then be settled nowhere.
 */
interface SequenceCounter {
  _id: string
  tenant: string
  committed: number
}

/**
 * A reserved range. Its `_id` is `tenant:first`, and a range always starts where the latest one ends,
 * so two writers that race for the same position collide on the unique `_id`: the loser reads the new end
 * and tries again. No range can overlap another.
 */
interface SequenceClaim {
  _id: string
  tenant: string
  first: number
  count: number
  claimed_at: Date
  /** Earlier ranges of this tenant that this replica has settled since its previous claim: their settlements, carried along. */
  settles?: Settlement[]
}

/** A claimed range whose bulk insert is acknowledged, with the seqs that hold no event and why. */
export interface Settlement {
  first: number
  count: number
  holes: Array<{ seq: number, reason: HoleReason }>
  /**
   * The leaf hash of every seq of the range, 32 bytes each, in seq order (a hole's is the filler leaf):
   * what the folder appends to the tenant's Merkle tree, so the tree is never built from the event log.
   */
  leaves?: Buffer | Binary
}

/** A settlement on its own (a commit record), written when no claim of the tenant came along to carry it (see `settle`). */
interface SettlementRecord extends Settlement {
  _id: string
  tenant: string
  /** Read from a claim's `settles`, not stored as a record of its own. */
  carried?: boolean
}

/**
 * "This replica lost a race for one of the tenant's positions": how a replica that loses tells the one that wins
 * (see CACHED_RUN_MAX). At most one per replica, tenant and CONTENDED_MS, and deleted after twice that: a collection
 * that stays small, which the end of each run of claims reads.
 */
interface ContentionMark {
  _id: string
  tenant: string
  replica: string
  at: Date
}

export interface RecordedHole {
  _id: string
  tenant: string
  seq: number
  reason: HoleReason
  recorded_at: Date
}

/** What a fold hands its contiguous settled ranges to, before deleting them. */
export interface SettledLog {
  extend: (tenant: string, settlements: Settlement[]) => Promise<void>
}

/** Where the tenant's claims must begin above, by the signer's record of receipts (integrity/signer-state.ts). */
export interface SeqFloor {
  /** The highest seq known to be in a receipt (exact marks). */
  receipted: number
  /**
   * The highest seq of a reservation whose replica let it expire without releasing it (it died): seqs up to
   * here may be in receipts whose exact mark did not reach the disk. 0 when none.
   */
  reserved: number
}

export interface Reservation {
  tenant: string
  first: number
  count: number
}

export interface SequencerOptions {
  /** How often settled ranges are folded into the counters, and unfinished ones looked for. */
  foldIntervalMs: number
  /**
   * How long a reserved range may stay unsettled before it is taken for a write that died: longer than
   * any bulk insert can take. Its missing seqs are then recorded as holes.
   */
  staleAfterMs: number
  /** Races for one position a claim may lose before its write is refused (503 EVENT_NOT_WRITTEN); 50 unless a test lowers it. */
  maxClaimAttempts?: number
}

/**
 * Per-tenant sequence numbers, gapless by construction.
 *
 * A bulk insert first claims a range per tenant by inserting one small claim document (one operation per
 * bulk write and tenant, whatever the number of events) and stamps the events with it. Once the insert is
 * acknowledged the range is settled: which of its seqs hold no event and why (a duplicate event_id). That
 * settlement rides along in the tenant's next claim from this replica, so under load it costs no operation
 * of its own; when no claim follows within SETTLE_FLUSH_MS it is written as a commit record.
 *
 * Claims are made with inserts against a unique `_id`, not with `$inc` on a counter: FerretDB 1.24 loses
 * concurrent updates of one document (50 concurrent `$inc` of 1 add up to 7 there), while a unique key is
 * enforced by its storage for every writer. So several replicas never share a seq, and the unique
 * (tenant, seq) index on the events would refuse it anyway.
 *
 * A claim whose settlement never arrives (the process died, the database went away mid-write) is
 * found by the folder once it is older than `staleAfterMs`: the seqs in it that hold no event are
 * recorded as `write_not_completed`. So every claimed seq is an event or a recorded hole.
 */
export class Sequencer {
  readonly counters: VersionedRecords<SequenceCounter>
  readonly claims: VersionedRecords<SequenceClaim>
  readonly settlementRecords: Collection<SettlementRecord>
  readonly holes: Collection<RecordedHole>
  readonly contention: Collection<ContentionMark>
  /**
   * Where this replica expects the tenant's next claim to start, and since when. Wrong only when another
   * replica claimed meanwhile, and then that claim still exists to collide with: claims are kept for
   * CLAIMS_KEPT_MS, longer than this guess is trusted.
   */
  private readonly nextSeq = new Map<string, { seq: number; at: number; runs: number }>()
  /** This sequencer's id in its contention marks, and the CONTENDED_MS period it last marked each tenant in. */
  private readonly replica = randomUUID()
  private readonly markedPeriod = new Map<string, number>()
  /** Claims of one tenant are made one after another in this process, so they never race each other. */
  private readonly claiming = new Map<string, Promise<unknown>>()
  /** Settlements not yet stored, per tenant: the tenant's next claim carries them, or `flush` writes them. */
  private readonly unsent = new Map<string, Settlement[]>()
  /** This replica's settled ranges above the folded counter, per tenant, in settlement order: see followedThrough. */
  private readonly settledHere = new Map<string, Array<{ first: number; count: number }>>()
  /** The tenants' Merkle trees, which every fold extends (integrity/tree.ts). */
  private log_: SettledLog | undefined
  private flushTimer: NodeJS.Timeout | undefined
  private floor: (tenant: string) => SeqFloor = () => ({ receipted: 0, reserved: 0 })
  private flushing: Promise<void> = Promise.resolve()
  /** Brings the folder's next round forward (startFolding): this replica has settled a range. */
  private wakeFolder: () => void = () => {}

  constructor (
    db: Db,
    private readonly events: Collection<StoredEvent>,
    readonly options: SequencerOptions,
    private readonly log?: FastifyBaseLogger
  ) {
    this.counters = new VersionedRecords(db.collection<SequenceCounter>('sequence_counters'), ['committed'])
    this.claims = new VersionedRecords(db.collection<SequenceClaim>('sequence_claims'), ['first'])
    this.settlementRecords = db.collection<SettlementRecord>('sequence_commits')
    this.holes = db.collection<RecordedHole>('sequence_holes')
    this.contention = db.collection<ContentionMark>('sequence_contention')
  }

  /**
   * Folds every `foldIntervalMs` while anything is claimed and not yet folded; an idle folder waits longer, up to
   * IDLE_FOLD_MS, and this replica's own settlements wake it. Another replica's claims are found within that wait.
   */
  startFolding (log?: FastifyBaseLogger): () => Promise<void> {
    const rounds = runBackingOff(
      () => this.options.foldIntervalMs,
      () => IDLE_FOLD_MS,
      async () => await this.fold(),
      log,
      'sequence fold failed; retrying'
    )
    this.wakeFolder = rounds.wake
    return rounds.stop
  }

  /** Where folded settlements go before they are deleted: the tenants' Merkle trees. */
  appendSettledTo (log: SettledLog): void {
    this.log_ = log
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.counters.collection, [{ key: { tenant: 1, committed: -1 }, name: 'tenant_committed' }])
    await ensureIndexes(this.claims.collection, [{ key: { tenant: 1, first: -1 }, name: 'tenant_first' }])
    await ensureIndexes(this.settlementRecords, [{ key: { tenant: 1, first: 1 }, name: 'tenant_first' }])
    await ensureIndexes(this.holes, [{ key: { tenant: 1, seq: 1 }, name: 'tenant_seq' }])
    await ensureIndexes(this.contention, [{ key: { tenant: 1 }, name: 'tenant' }])
  }

  /** Claims `count` new seqs for this tenant. */
  async reserve (tenant: string, count: number): Promise<Reservation> {
    const previous = this.claiming.get(tenant) ?? Promise.resolve()
    const claim = previous.then(
      async () => await this.claim(tenant, count),
      async (err: unknown) => {
        // the claim this one waited behind could not reach the database: neither can this one, and it fails now
        // rather than wait as long again (claims queued behind each other would add up to many DB_TIMEOUT_MS)
        if (isDatabaseUnreachable(err)) throw err
        return await this.claim(tenant, count)
      }
    )
    this.claiming.set(tenant, claim)
    try {
      return await claim
    } finally {
      if (this.claiming.get(tenant) === claim) this.claiming.delete(tenant)
    }
  }

  private async claim (tenant: string, count: number): Promise<Reservation> {
    const cached = this.nextSeq.get(tenant)
    const fresh = cached !== undefined && Date.now() - cached.at < NEXT_SEQ_TRUSTED_MS
    // at the end of a run, the newest claim is read only when another replica says it lost races (see CACHED_RUN_MAX)
    if (fresh && cached.runs === 0 && !await this.contended(tenant)) cached.runs = cachedRun()
    const trusted = fresh && cached.runs > 0
    let first = trusted ? cached.seq : (await this.claimedThrough(tenant)) + 1
    for (let attempt = 1; ; attempt++) {
      try {
        const settles = this.unsent.get(tenant) ?? []
        this.unsent.delete(tenant)
        try {
          await this.claims.collection.insertOne({ _id: rangeId(tenant, first), tenant, first, count, claimed_at: new Date(), settles })
        } catch (err) {
          // not carried after all: they wait for the next claim or the flush
          if (settles.length > 0) this.unsent.set(tenant, [...settles, ...(this.unsent.get(tenant) ?? [])])
          throw err
        }
        // a run of claims from the cache, then one from a read: see CACHED_RUN_MAX
        const runs = trusted && attempt === 1 ? cached.runs - 1 : cachedRun()
        this.nextSeq.set(tenant, { seq: first + count, at: Date.now(), runs })
        return { tenant, first, count }
      } catch (err) {
        // a failure of the database fails the write as it is (a 503, as fast as any other operation), and the next
        // claim tries the same position: if this insert landed after all, that one collides and reads the newest
        if (!isDuplicateKey(err)) throw err
        await this.markContended(tenant)
        // another replica claimed this position first: start after the newest claim and try again
        if (attempt >= (this.options.maxClaimAttempts ?? MAX_CLAIM_ATTEMPTS)) {
          this.nextSeq.delete(tenant)
          // nothing was written for this claim: the client retries (503 EVENT_NOT_WRITTEN, Retry-After), not a fault
          this.log?.warn({ tenant, attempts: attempt }, 'every claim attempt for this tenant lost its race to another replica')
          throw new EventNotWrittenError()
        }
        first = (await this.claimedThrough(tenant)) + 1
      }
    }
  }

  /** Tells the other replicas that this one lost a race for the tenant's position: once per CONTENDED_MS. */
  private async markContended (tenant: string): Promise<void> {
    const period = Math.floor(Date.now() / CONTENDED_MS)
    if (this.markedPeriod.get(tenant) === period) return
    this.markedPeriod.set(tenant, period)
    const mark = { _id: `${tenant}:${this.replica}:${period}`, tenant, replica: this.replica, at: new Date() }
    // only a hint: a mark not written leaves the other replica's runs long, and this one losing races for longer
    await insertIgnoringDuplicates(this.contention, [mark]).catch((err: unknown) => {
      this.log?.warn({ err, tenant }, 'could not record a lost race for a seq position')
    })
  }

  /**
   * Whether another replica lost a race for the tenant's positions in the last CONTENDED_MS. The marks are few
   * (one per losing replica, tenant and CONTENDED_MS), and old ones are deleted here.
   */
  private async contended (tenant: string): Promise<boolean> {
    const now = Date.now()
    const marks = await this.contention.find({ tenant }).toArray()
    const old = marks.filter((mark) => now - mark.at.getTime() > 2 * CONTENDED_MS)
    if (old.length > 0) await this.contention.deleteMany({ _id: { $in: old.map((mark) => mark._id) } })
    return marks.some((mark) => mark.replica !== this.replica && now - mark.at.getTime() <= CONTENDED_MS)
  }

  /**
   * Where the signer's record says seqs were already handed out (receipts), outside the database: the
   * sequencer never claims at or below it again (the integrity wing sets it; 0 without one).
   */
  useSeqFloor (floor: (tenant: string) => SeqFloor): void {
    this.floor = floor
  }

  /**
   * The last seq claimed for the tenant: the end of its newest claim (the folder always keeps the newest one).
   * Never below the floor: a database that lost claims (restored, cut back) holds fewer than were handed out,
   * and the missing ones are claimed here as holes (`lost_from_database`), so no receipted seq is given twice;
   * so are the unused seqs of a signer's reservation that a dead replica never released (`reserved_by_signer`).
   */
  async claimedThrough (tenant: string): Promise<number> {
    // the floor before the claims: a receipted seq's claim is stored before the record names it, so a read of the
    // claims that starts after the floor was read sees every claim it covers. The other way round, a claim made
    // between the two reads looked lost (the fuzzer's run found it: a false alarm, and a claim racing the real one)
    const floor = this.floor(tenant)
    const newest = await this.claims.newest({ tenant })
    const stored = newest !== undefined ? newest.first + newest.count - 1 : await this.foldedMark(tenant)
    if (stored >= floor.receipted && stored >= floor.reserved) return stored
    await this.claimBelowFloor(tenant, stored + 1, floor.receipted, 'lost_from_database')
    await this.claimBelowFloor(tenant, Math.max(stored, floor.receipted) + 1, floor.reserved, 'reserved_by_signer')
    return Math.max(floor.receipted, floor.reserved)
  }

  /**
   * Claims seqs [first, last] that the signer's record says may be in receipts while the database holds no claim
   * of them, settled at once as holes: lost by the database, or reserved by a replica that died before using them.
   */
  private async claimBelowFloor (tenant: string, first: number, last: number, reason: 'lost_from_database' | 'reserved_by_signer'): Promise<void> {
    for (let start = first; start <= last; start += LOST_CHUNK) {
      const count = Math.min(LOST_CHUNK, last - start + 1)
      // another replica may have claimed the same range first: one claim of it stands, settled once
      const claim = { _id: rangeId(tenant, start), tenant, first: start, count, claimed_at: new Date(), settles: [] }
      if (!await insertUnique(this.claims.collection, claim)) continue
      if (reason === 'lost_from_database') {
        this.log?.error(
          { tenant, first: start, last: start + count - 1 },
          'the database holds fewer seqs than the signer handed out in receipts: recording the rest as lost'
        )
      } else {
        this.log?.warn({ tenant, first: start, last: start + count - 1 }, "recording a dead replica's unused reservation of seqs as holes")
      }
      const holes = Array.from({ length: count }, (_, i) => ({ seq: start + i, reason }))
      const leaves = Buffer.concat(holes.map(({ seq }) => Buffer.from(holeLeafHash(tenant, seq), 'hex')))
      this.settle([{ tenant, first: start, count, holes, leaves }])
    }
  }

  /** The tenant's folded mark: the highest `committed` any fold recorded. */
  private async foldedMark (tenant: string): Promise<number> {
    return (await this.counters.newest({ tenant }))?.committed ?? 0
  }

  /** Every tenant's folded mark: one read of the counters, a record or two per tenant. */
  private async foldedMarks (): Promise<Map<string, number>> {
    const marks = new Map<string, number>()
    for (const [tenant, mark] of await this.counters.newestOfEach('tenant')) marks.set(tenant, mark.committed)
    return marks
  }

  /**
   * How many seqs all tenants' folded marks cover: the size of the event log, give or take recorded holes and
   * expired events, found without reading the log (on FerretDB a count reads every event).
   */
  async foldedSeqCount (): Promise<number> {
    let total = 0
    for (const committed of (await this.foldedMarks()).values()) total += committed
    return total
  }

  /**
   * Settles claimed ranges once their bulk insert is acknowledged. Nothing waits for this to be stored:
   * the events are, and a range whose settlement is lost (the process died first) is settled by the
   * folder from the stored events once its claim is stale.
   */
  settle (settled: Array<Reservation & Pick<Settlement, 'holes' | 'leaves'>>): void {
    for (const { tenant, first, count, holes, leaves } of settled) {
      this.unsent.set(tenant, [...(this.unsent.get(tenant) ?? []), { first, count, holes, leaves }])
      const here = this.settledHere.get(tenant) ?? []
      // a bounded memory: forgetting a range only makes followedThrough lower until the fold catches up
      if (here.length >= SETTLED_HERE_KEPT) here.shift()
      here.push({ first, count })
      this.settledHere.set(tenant, here)
    }
    if (settled.length > 0) this.wakeFolder()
    if (this.flushTimer === undefined && this.unsent.size > 0) {
      this.flushTimer = setTimeout(() => {
        this.flushing = this.flush().catch((err: unknown) => this.onFlushError(err))
      }, SETTLE_FLUSH_MS).unref()
    }
  }

  /** Writes every settlement no claim has carried yet, as commit records; at shutdown, and after SETTLE_FLUSH_MS. */
  async flush (): Promise<void> {
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    await this.flushing
    const docs = [...this.unsent].flatMap(([tenant, settlements]) =>
      settlements.map((settlement) => ({ _id: rangeId(tenant, settlement.first), tenant, ...settlement }))
    )
    this.unsent.clear()
    if (docs.length === 0) return
    try {
      await insertIgnoringDuplicates(this.settlementRecords, docs)
    } catch (err) {
      for (const { tenant, first, count, holes, leaves } of docs) {
        this.unsent.set(tenant, [...(this.unsent.get(tenant) ?? []), { first, count, holes, leaves }])
      }
      throw err
    }
  }

  private onFlushError (err: unknown): void {
    this.log?.warn({ err }, 'writing seq settlements failed; retrying')
    // they are back in `unsent`: settling nothing schedules the next attempt
    this.settle([])
  }

  /** The tenant's commit records and the settlements its claims carry, in seq order, without their leaves. */
  private async settlements (tenant: string): Promise<SettlementRecord[]> {
    const claimFields = { tenant: 1, 'settles.first': 1, 'settles.count': 1, 'settles.holes': 1 }
    const claims = await this.claims.collection.find({ tenant }, { projection: claimFields }).toArray()
    return await this.withCommitRecords(claims, tenant, false)
  }

  /**
   * The settlements `claims` carry, and the commit records (read after the claims: see settledThrough), of one
   * tenant or all, in (tenant, first) order; their leaves only for the folder, which appends them to the tree.
   */
  private async withCommitRecords (
    claims: Array<Pick<SequenceClaim, 'tenant' | 'settles'>>,
    tenant: string | undefined,
    withLeaves: boolean
  ): Promise<SettlementRecord[]> {
    const carried = claims.flatMap((claim) =>
      (claim.settles ?? []).map((settlement) => ({
        _id: rangeId(claim.tenant, settlement.first),
        tenant: claim.tenant,
        carried: true,
        ...settlement
      }))
    )
    const filter = tenant === undefined ? {} : { tenant }
    const all = [...(await this.settlementRecords.find(filter, withLeaves ? {} : { projection: { leaves: 0 } }).toArray()), ...carried]
    return all.sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : a.first - b.first))
  }

  /** The highest seq up to which every seq of the tenant is settled: reads by seq never go past it. */
  async settledThrough (tenant: string): Promise<number> {
    // settlements first: a fold between the two reads then only makes the counter newer, never the settlements older
    const settlements = await this.settlements(tenant)
    return contiguousFrom(await this.foldedMark(tenant), settlements).through
  }

  /**
   * A settled mark for followers that ask several times a second: the folded counter (one small read), extended by
   * the ranges this replica settled itself, which it knows without reading. Every seq up to it holds its stored
   * event or none; it may lead settledThrough by the moment (SETTLE_FLUSH_MS) before this replica's settlement
   * records are stored, and trails it for other replicas' ranges. settledThrough reads every claim and commit
   * record, on FerretDB a scan of a collection that holds every bulk write of the last CLAIMS_KEPT_MS, leaves
   * included. Another replica's events come into it when the folder (every SEQUENCE_FOLD_MS) has folded them; this
   * replica's own at once.
   */
  async followedThrough (tenant: string): Promise<number> {
    let through = await this.foldedMark(tenant)
    const here = this.forgetSettledHere(tenant, through)
    for (const range of [...here].sort((a, b) => a.first - b.first)) {
      if (range.first > through + 1) break
      through = Math.max(through, range.first + range.count - 1)
    }
    return through
  }

  /** Drops this replica's settled ranges at or below a folded mark (the folder does, for every tenant it writes). */
  private forgetSettledHere (tenant: string, through: number): Array<{ first: number; count: number }> {
    const here = (this.settledHere.get(tenant) ?? []).filter((range) => range.first + range.count - 1 > through)
    if (here.length === 0) this.settledHere.delete(tenant)
    else this.settledHere.set(tenant, here)
    return here
  }

  /** Every recorded hole of the tenant up to `through`, folded or not yet. */
  async recordedHoles (tenant: string, through: number): Promise<Map<number, HoleReason>> {
    const holes = new Map<number, HoleReason>()
    // settlements before folded holes: a fold in between moves holes into sequence_holes, never out of both
    for (const settlement of await this.settlements(tenant)) {
      for (const hole of settlement.holes) if (hole.seq <= through) holes.set(hole.seq, hole.reason)
    }
    for await (const hole of this.holes.find({ tenant, seq: { $lte: through } })) holes.set(hole.seq, hole.reason)
    return holes
  }

  /**
   * Moves contiguous settled ranges into the counters (their holes into sequence_holes), and records the
   * holes of claims that stayed unsettled past `staleAfterMs`. Safe to run on every replica at once: each
   * step is idempotent, and the counter only ever rises (its marks are inserted, the highest kept). Says whether
   * anything was left to fold or prune: a claim above its tenant's folded mark, or a change made.
   */
  async fold (now = Date.now()): Promise<boolean> {
    // claims and settlements before the counters, for the reason given in settledThrough. The claims are read once,
    // with what they carry: on FerretDB every read of them scans them all, a bulk write's claim each for CLAIMS_KEPT_MS
    const claims = await this.claims.collection.find({}).sort({ tenant: 1, first: 1 }).toArray()
    const settlements = await this.withCommitRecords(claims, undefined, true)
    const counters = await this.foldedMarks()
    let failure: unknown
    let busy = false
    for (const tenant of new Set(claims.map((claim) => claim.tenant))) {
      const ownClaims = claims.filter((claim) => claim.tenant === tenant)
      const ownSettlements = settlements.filter((settlement) => settlement.tenant === tenant)
      // one tenant's failure (a record it cannot fold) does not hold up the others' folds: it is thrown after them
      await this.foldTenant(tenant, counters.get(tenant) ?? 0, ownClaims, ownSettlements, now).then(
        (worked) => { busy ||= worked },
        (err: unknown) => { failure ??= err }
      )
    }
    if (failure !== undefined) throw failure
    return busy
  }

  /** Folds one tenant; says whether anything was done, or is still claimed above the mark it reached. */
  private async foldTenant (
    tenant: string,
    mark: number,
    ownClaims: SequenceClaim[],
    ownSettlements: SettlementRecord[],
    now: number
  ): Promise<boolean> {
    const { through, folded, stale } = contiguousFrom(mark, ownSettlements)
    this.forgetSettledHere(tenant, through)
    // carried settlements go with their claims: only commit records are deleted here
    const staleRecords = stale.filter((settlement) => settlement.carried !== true)
    const folding = folded.length > 0 || staleRecords.length > 0
    if (folding) await this.foldSettlements(tenant, through, folded, staleRecords)
    const pruned = await this.pruneClaims(ownClaims, through, now)
    const settledFirsts = new Set(ownSettlements.map((settlement) => settlement.first))
    let unfolded = false
    for (const claim of ownClaims) {
      if (claim.first + claim.count - 1 > through) unfolded = true
      if (claim.first <= through || settledFirsts.has(claim.first)) continue
      if (now - claim.claimed_at.getTime() >= this.options.staleAfterMs) await this.settleAbandoned(claim)
    }
    return folding || pruned || unfolded
  }

  private async foldSettlements (tenant: string, through: number, folded: SettlementRecord[], stale: SettlementRecord[]): Promise<void> {
    const holes = folded.flatMap((settlement) =>
      settlement.holes.map(({ seq, reason }) => ({ _id: `${tenant}:${seq}`, tenant, seq, reason, recorded_at: new Date() }))
    )
    if (holes.length > 0) await insertIgnoringDuplicates(this.holes, holes)
    // the tree takes the leaves before the settlements that hold them are deleted: it is never behind the counter
    if (folded.length > 0) await this.log_?.extend(tenant, folded)
    // the new mark is stored before what it covers is deleted; lower marks go after, the highest always stays
    await this.counters.append({ _id: rangeId(tenant, through), tenant, committed: through })
    await this.settlementRecords.deleteMany({ _id: { $in: [...folded, ...stale].map((settlement) => settlement._id) } })
    await this.counters.pruneBefore({ tenant }, { committed: through })
  }

  /** Says whether any claim was deleted. */
  private async pruneClaims (claims: SequenceClaim[], through: number, now: number): Promise<boolean> {
    // settled claims go once old enough that no replica can still try their position, except the newest:
    // the next claim starts where it ends
    const newest = claims[claims.length - 1]
    const done = claims.filter(
      (claim) => claim !== newest && claim.first + claim.count - 1 <= through && now - claim.claimed_at.getTime() > CLAIMS_KEPT_MS
    )
    if (done.length === 0) return false
    await this.claims.collection.deleteMany({ _id: { $in: done.map((claim) => claim._id) } })
    return true
  }

  /**
   * A claim nobody settled: whatever the dead write did store stays, with the leaf hash it was stored
   * with; the rest becomes recorded holes. The one read of the event log the folder makes, and only
   * after a write died.
   */
  private async settleAbandoned (claim: SequenceClaim): Promise<void> {
    const { tenant, first, count } = claim
    const present = new Map<number, StoredEvent>()
    for await (const doc of this.events.find({ tenant, seq: { $gte: first, $lt: first + count } })) present.set(doc.seq, doc)
    const holes: Settlement['holes'] = []
    const leaves = Buffer.alloc(count * 32)
    for (let seq = first; seq < first + count; seq++) {
      const doc = present.get(seq)
      if (doc === undefined) holes.push({ seq, reason: 'write_not_completed' })
      // an event without a leaf hash was not written by the service: the tree keeps the position as it reserved it, empty
      leaves.write(doc?.hash ?? holeLeafHash(tenant, seq), (seq - first) * 32, 'hex')
    }
    await insertIgnoringDuplicates(this.settlementRecords, [{ _id: rangeId(tenant, first), tenant, first, count, holes, leaves }])
  }
}

/** Lost seqs are claimed in ranges of at most this many: one claim document each stays small. */
const LOST_CHUNK = 10000
/** Replicas racing for one tenant's next position: each lost race costs one read and one insert. */
const MAX_CLAIM_ATTEMPTS = 50
const NEXT_SEQ_TRUSTED_MS = 5000
/**
 * Fairness between replicas. A claim from the cache costs one insert, a claim after a lost race a read and an
 * insert: a replica claiming back to back from its cache would win every race for the same position, and another
 * replica of the same tenant would lose until it ran out of attempts. So while another replica loses races for the
 * tenant (it says so in sequence_contention), a replica claims from its cache at most a random 1..CACHED_RUN_MAX
 * times in a row, then reads the newest claim like a loser does: the two race on equal terms then, and the winner's
 * cache makes it the one that claims next. With nobody losing, the run's end costs a read of the marks only: on
 * FerretDB a read of the newest claim scans every claim kept (CLAIMS_KEPT_MS of bulk writes, with the leaves they
 * carry), and one every 4.5 claims took more than half the database's CPU under a sustained W1 (BENCHMARKS.md).
 */
const CACHED_RUN_MAX = 8
/** How long a replica's lost race keeps the others' runs short (ContentionMark). */
const CONTENDED_MS = 10_000
/** How long a settlement waits for the tenant's next claim to carry it before it is written on its own. */
const SETTLE_FLUSH_MS = 20
/**
 * The longest an idle folder waits between rounds (never shorter than SEQUENCE_FOLD_MS): how late it may find
 * another replica's first claim after a quiet spell, or a claim of a replica that died.
 */
const IDLE_FOLD_MS = 1000
/** This replica's own settled ranges remembered per tenant for followedThrough. */
const SETTLED_HERE_KEPT = 10000
/** Settled claims are deleted only once older than this, so that no position can be claimed twice. */
const CLAIMS_KEPT_MS = 4 * NEXT_SEQ_TRUSTED_MS

function cachedRun (): number {
  return 1 + Math.floor(Math.random() * CACHED_RUN_MAX)
}

/** Folds settlements that continue the mark without a gap; those wholly below it are leftovers of an earlier fold. */
function contiguousFrom (
  mark: number,
  settlements: SettlementRecord[]
): { through: number; folded: SettlementRecord[]; stale: SettlementRecord[] } {
  let through = mark
  const folded: SettlementRecord[] = []
  const stale: SettlementRecord[] = []
  for (const settlement of settlements) {
    if (settlement.first + settlement.count - 1 <= through) {
      stale.push(settlement)
    } else if (settlement.first === through + 1) {
      folded.push(settlement)
      through = settlement.first + settlement.count - 1
    } else {
      break
    }
  }
  return { through, folded, stale }
}

function rangeId (tenant: string, first: number): string {
  return `${tenant}:${first}`
}

async function sequencerPlugin (fastify: FastifyInstance, options: SequencerOptions) {
  const db = fastify.mongo.db
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (db === undefined) throw new Error('mongodb plugin has no database')
  const sequencer = new Sequencer(db, fastify.eventStore.collection, options, fastify.log)
  await sequencer.ensureIndexes()
  // the unique (tenant, seq) index is created once no two events of a tenant lack a seq, so where it exists
  // the migration is done: it is not looked for again, which on FerretDB would scan every event at every start
  if (!await hasIndex(fastify.eventStore.collection, SEQ_INDEX)) {
    await assignMissingSeqs(fastify.eventStore.collection, sequencer, fastify.log)
    await ensureIndexes(fastify.eventStore.collection, [SEQ_INDEX])
  }
  fastify.decorate('sequencer', sequencer)
  const stop = sequencer.startFolding(fastify.log)
  fastify.addHook('onClose', async function stopFolding () {
    await stop()
    await sequencer
      .flush()
      .catch((err: unknown) =>
        fastify.log.warn({ err }, 'writing the last seq settlements failed; the folder settles them from the stored events')
      )
  })
}

export default fp(sequencerPlugin, { fastify: '5.x', name: 'sequencer', dependencies: ['event-store'] })
