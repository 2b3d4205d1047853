import type { FastifyBaseLogger } from 'fastify'
import type { Collection } from 'mongodb'
import type { StoredEvent } from '../events/record.js'
import type { Sequencer } from '../events/sequencer.js'
import type { SlotLease } from '../storage/lease.js'
import type { TenantPolicies } from '../retention/policy-store.js'
import { runEvery, sleepUnlessAborted } from '../storage/periodic.js'
import { eraseEvent } from './erase-event.js'
import { matchFilter, pathsToErase } from './rule.js'
import type { ErasureProgressDoc, ErasureRequestDoc, ErasureRequests } from './request-store.js'
import type { ErasedPaths } from './erasure-audit.js'

export interface ErasureWorkerOptions {
  /** How often a round starts; 0 never (tests call `run` themselves). */
  intervalMs: number
  /** Most events rewritten per batch. */
  batchSize: number
  /** Shortest pause between two batches; the pause is also at least as long as the batch took. */
  pauseMs: number
  /** Length of a lease slot: one replica erases in each. */
  leaseMs: number
  /**
   * How long any replica may still serve an event as it was read before a rewrite: the age limit of the
   * followers' tail of the log (STREAM_TAIL_MAX_AGE_MS). A request that erased something is done only then.
   */
  staleReadsMs: number
}

/** Told of each batch of events rewritten, so this replica's followers stop serving them from memory at once. */
export type OnRewritten = (tenant: string) => void

export interface ErasureRound {
  /** False when there was nothing to do or another replica holds the lease. */
  ran: boolean
  /** Per request worked on: its state after the round. */
  requests: Record<string, 'done' | 'held' | 'continues'>
}

/**
 * Told of what a batch is about to erase, before it rewrites anything: it records the erasure entry in the
 * tenant's log, and a failure stops the batch (nothing erased that the log does not cover).
 */
export type OnErasing = (request: ErasureRequestDoc, items: ErasedPaths[]) => Promise<void>

/** Told of a request once every matching event is erased, before it is marked done (so at least once). */
export type OnCompleted = (request: ErasureRequestDoc, matched: number, erased: number) => Promise<void>

/**
 * Works through erasure requests in the background, modelled on the retention sweeper: bounded batches
 * with a pause, one replica at a time (the slot lease, checked before every batch), legal hold read again
 * before every batch (a held tenant's request waits), and everything it knows in the database, so a
 * restart continues where the last recorded step ended. A request covers the events settled when it
 * starts (`through`), in seq order; each step records how far it got, insert-only.
 *
 * A batch rewritten twice (a crash before its step was recorded, or a lease that ran out mid-batch) is
 * harmless: an erased path is not erased again, and two replicas erasing the same event write the same.
 * With no request open, a round costs one read of the (small) requests collection and no lease.
 */
export class ErasureWorker {
  /** The worker's clock: tests set it. */
  clock: () => Date = () => new Date()
  /** The wait between batches, told how long the last one took: tests replace it to act between two batches. */
  pause: (lastBatchMs: number) => Promise<void>
  private stopRounds: (() => Promise<void>) | undefined
  private readonly stopping = new AbortController()

  constructor (
    private readonly events: Collection<StoredEvent>,
    private readonly requests: ErasureRequests,
    private readonly sequencer: Sequencer,
    private readonly policies: TenantPolicies,
    private readonly lease: SlotLease,
    readonly options: ErasureWorkerOptions,
    private readonly onCompleted: OnCompleted,
    private readonly onErasing: OnErasing,
    private readonly log?: FastifyBaseLogger,
    private readonly onRewritten: OnRewritten = () => {}
  ) {
    // at most half the time rewriting: on FerretDB 1.24 every update by _id is a scan of the collection
    this.pause = async (lastBatchMs) => await new Promise((resolve) => setTimeout(resolve, Math.max(options.pauseMs, lastBatchMs)))
  }

  /** One round over every open request, if this replica holds the lease. */
  async run (): Promise<ErasureRound> {
    const round: ErasureRound = { ran: false, requests: {} }
    const open = await this.requests.unfinished()
    if (open.length === 0) return round
    const until = await this.lease.acquire(this.clock())
    if (until === undefined) return round
    round.ran = true
    for (const request of open) {
      if (this.stopped || this.clock() >= until) break
      try {
        round.requests[request._id] = await this.work(request, until)
      } catch (err) {
        // one request that fails (its database write refused) does not hold up the others
        this.log?.error({ err, request: request._id }, 'an erasure batch failed; the request continues from its recorded step next round')
        round.requests[request._id] = 'continues'
      }
    }
    return round
  }

  private async work (request: ErasureRequestDoc, until: Date): Promise<'done' | 'held' | 'continues'> {
    let step = await this.requests.latestProgress(request._id)
    const filter = matchFilter(request.rule, request.value)
    let lastBatchMs = 0
    for (let batch = 0; step?.done !== true; batch++) {
      if (batch > 0) await this.pause(lastBatchMs)
      const started = performance.now()
      if ((await this.policies.legalHold(request.tenant)).active) return 'held'
      if (this.stopped || this.clock() >= until) return 'continues'
      const next = step === undefined ? await this.begin(request, filter) : await this.batch(request, filter, step)
      if (next.done && next.erased > 0) {
        // the wait ends inside this replica's lease slot, or the next slot finishes the request
        if (this.clock().getTime() + this.options.staleReadsMs >= until.getTime()) return await this.oweTheWait(next)
        await this.outlastStaleReads()
        if (this.stopped) return await this.oweTheWait(next)
      }
      if (next.done) await this.onCompleted(request, next.matched, next.erased)
      if (!(await this.requests.record(next))) return 'continues'
      step = next
      lastBatchMs = performance.now() - started
    }
    await this.requests.finish(request, this.clock())
    this.log?.info({ request: request._id, tenant: request.tenant, matched: step.matched, erased: step.erased }, 'erasure request done')
    return 'done'
  }

  /** Step 0: what the request covers (the tenant's events settled now) and how many of them match. */
  private async begin (request: ErasureRequestDoc, filter: ReturnType<typeof matchFilter>): Promise<ErasureProgressDoc> {
    const through = await this.sequencer.settledThrough(request.tenant)
    const matched = await this.events.countDocuments({ $and: [{ tenant: request.tenant, seq: { $lte: through } }, filter] })
    return {
      _id: `${request._id}:0`,
      request: request._id,
      n: 0,
      through,
      matched,
      after_seq: 0,
      erased: 0,
      done: matched === 0,
      at: this.clock()
    }
  }

  /** The next matching events above the last step, in seq order, erased. */
  private async batch (
    request: ErasureRequestDoc,
    filter: ReturnType<typeof matchFilter>,
    step: ErasureProgressDoc
  ): Promise<ErasureProgressDoc> {
    const docs = await this.events
      .find({ $and: [{ tenant: request.tenant, seq: { $gt: step.after_seq, $lte: step.through } }, filter] })
      .sort({ seq: 1 })
      .limit(this.options.batchSize)
      .toArray()
    const planned = docs
      .map((doc) => ({ doc, paths: pathsToErase(request.rule, request.value, request.fields, doc) }))
      .filter(({ paths }) => paths.length > 0)
    if (planned.length > 0) await this.onErasing(request, planned.map(({ doc, paths }) => ({ seq: doc.seq, paths })))
    for (const { doc, paths } of planned) {
      const { set, leaf } = eraseEvent(doc, paths)
      if (leaf !== doc.hash) {
        this.log?.warn(
          { request: request._id, seq: doc.seq },
          'an event to erase no longer matched its leaf hash before the erasure; erased anyway'
        )
      }
      await this.events.updateOne({ _id: doc._id, tenant: request.tenant }, { $set: set, $unset: { salt: '' } })
    }
    if (docs.length > 0) this.onRewritten(request.tenant)
    const done = docs.length < this.options.batchSize
    const after = done ? step.through : (docs[docs.length - 1] as StoredEvent).seq
    const n = step.n + 1
    return { ...step, _id: `${request._id}:${n}`, n, after_seq: after, erased: step.erased + docs.length, done, at: this.clock() }
  }

  private get stopped (): boolean {
    return this.stopping.signal.aborted
  }

  /**
   * The last batch's rewrites are recorded, not yet done: the round that finishes the request finds nothing left to
   * rewrite, and its count of rewritten events (kept from this step) still makes it wait out the stale reads. Left
   * unrecorded, that batch found nothing either (its events no longer match) and counted none, and the request was
   * done with no wait: a tail could serve an erased event as it was after the request said done.
   */
  private async oweTheWait (step: ErasureProgressDoc): Promise<'continues'> {
    await this.requests.record({ ...step, done: false })
    return 'continues'
  }

  /**
   * Waits until no replica's tail can still hold an event as it was before this request's rewrites. A stop
   * does not sit it out: the request stays unfinished, and a later round completes it.
   */
  private async outlastStaleReads (): Promise<void> {
    if (this.options.staleReadsMs > 0) await sleepUnlessAborted(this.options.staleReadsMs, this.stopping.signal)
  }

  start (): void {
    if (this.options.intervalMs === 0) return
    // one round at a time: a round longer than the interval is not queued behind, the next follows it
    this.stopRounds = runEvery(
      () => this.options.intervalMs,
      async () => {
        await this.run().catch((err: unknown) =>
          this.log?.error({ err }, 'an erasure round failed; the next one continues from the recorded step')
        )
      },
      this.log,
      'an erasure round failed'
    )
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    await this.stopRounds?.()
  }
}
