import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Collection } from 'mongodb'
import type { StoredEvent } from '../events/record.js'
import type { Sequencer } from '../events/sequencer.js'
import { horizonMessage } from '../../../verifier/horizon.js'
import { runEvery } from '../storage/periodic.js'
import { SlotLease } from '../storage/lease.js'
import { expiryCutoff, type RetentionHorizon, type TenantPolicies } from './policy-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    retentionSweeper: RetentionSweeper
  }
}

export interface SweeperOptions {
  /** How often a sweep round starts; 0 never (tests call `sweep` themselves). */
  intervalMs: number
  /** Most seqs expired by one delete. */
  batchSize: number
  /** Shortest pause between two batches; the pause is also at least DUTY_RATIO times the batch's own time. */
  pauseMs: number
  /** Length of a lease slot: one replica sweeps in each. */
  leaseMs: number
}

export interface SweepReport {
  /** False when another replica holds the lease: this one did nothing. */
  swept: boolean
  /** Per tenant: events deleted, the horizon reached, whether a legal hold stopped it. */
  tenants: Record<string, { deleted: number, horizon: number, held: boolean }>
}

/** What signs a horizon: the integrity wing's signing keys (structural, so retention imports nothing of integrity). */
export interface HorizonSigner {
  readonly current: { key_id: string }
  sign: (message: Buffer) => string
}

/**
 * Deletes events past their tenant's retention. Only whole leading seq ranges go, oldest first: a round
 * reads the seqs just above the tenant's horizon in bounded batches (`seq` in [H, H + batchSize)), stops
 * at the first event still within retention, records the new horizon, then deletes below it. The horizon
 * is recorded first: a crash between the two leaves events below the horizon, which the next round deletes
 * (never missing seqs above it, which would read as tampering).
 *
 * A legal hold is read again before every batch, so a hold set during a sweep stops it there. The lease
 * is checked before every batch too. After a round the sweeper knows when the tenant's oldest kept event
 * expires and leaves the tenant alone until then, so a quiet tenant costs no read of the event log.
 */
export class RetentionSweeper {
  /** The sweeper's clock: tests set it. */
  clock: () => Date = () => new Date()
  /** The wait between batches, told how long the last one took: tests replace it to act between two batches. */
  pause: (lastBatchMs: number) => Promise<void>
  private readonly lease: SlotLease
  /** When each tenant's oldest kept event expires, as last seen (by the policy days it was computed for). */
  private readonly nextExpiry = new Map<string, { at: number, days: number }>()
  private stopRounds: (() => Promise<void>) | undefined
  private stopped = false

  constructor (
    private readonly events: Collection<StoredEvent>,
    private readonly sequencer: Sequencer,
    private readonly policies: TenantPolicies,
    private readonly tenantsWithUsers: () => Promise<string[]>,
    lease: SlotLease,
    private readonly keys: HorizonSigner,
    readonly options: SweeperOptions,
    private readonly log?: FastifyBaseLogger
  ) {
    this.lease = lease
    // the sweeper deletes for at most 1 part in DUTY_RATIO + 1 of the time: on FerretDB 1.24 each deleted
    // document costs a scan of the collection and holds SQLite's one write lock meanwhile, so that share is
    // what ingest can lose (measured as W6: BENCHMARKS.md, "Retention sweeper")
    this.pause = async (lastBatchMs) =>
      await new Promise((resolve) => setTimeout(resolve, Math.max(options.pauseMs, DUTY_RATIO * lastBatchMs)))
  }

  /** One round over every tenant whose events may expire, if this replica holds the lease. */
  async sweep (): Promise<SweepReport> {
    const report: SweepReport = { swept: false, tenants: {} }
    const until = await this.lease.acquire(this.clock())
    if (until === undefined) return report
    report.swept = true
    for (const [tenant, days] of await this.policies.expiringTenants(this.tenantsWithUsers)) {
      if (this.stopped || this.clock() >= until) break
      const hint = this.nextExpiry.get(tenant)
      if (hint !== undefined && hint.days === days && this.clock().getTime() < hint.at) continue
      report.tenants[tenant] = await this.sweepTenant(tenant, days, until)
    }
    return report
  }

  private async sweepTenant (tenant: string, days: number, until: Date): Promise<SweepReport['tenants'][string]> {
    let horizon = (await this.policies.retentionHorizon(tenant))?.horizon ?? 1
    let deleted = 0
    // what a crash between recording a horizon and deleting below it left behind
    if (horizon > 1 && !this.nextExpiry.has(tenant)) {
      deleted += (await this.events.deleteMany({ tenant, seq: { $lt: horizon } })).deletedCount
    }
    const through = await this.sequencer.settledThrough(tenant)
    let lastBatchMs = 0
    for (let batch = 0; ; batch++) {
      if (batch > 0) await this.pause(lastBatchMs)
      const batchStarted = performance.now()
      if ((await this.policies.legalHold(tenant)).active) return { deleted, horizon, held: true }
      const now = this.clock()
      if (this.stopped || now >= until) break
      // only settled seqs: above them a write may still be landing
      const upper = Math.min(horizon + this.options.batchSize, through + 1)
      if (upper <= horizon) {
        this.nextExpiry.set(tenant, { at: nothingOlderUntil(now, days), days })
        break
      }
      const cutoff = expiryCutoff(now, days)
      const docs = await this.events
        .find({ tenant, seq: { $gte: horizon, $lt: upper } }, { projection: { _id: 0, seq: 1, timestamp: 1 } })
        .sort({ seq: 1 })
        .toArray()
      const firstKept = docs.find((doc) => doc.timestamp >= cutoff)
      const next = firstKept?.seq ?? upper
      if (firstKept !== undefined) {
        this.nextExpiry.set(tenant, { at: firstKept.timestamp.getTime() + (now.getTime() - cutoff.getTime()), days })
      }
      if (next > horizon) {
        await this.policies.recordHorizon(tenant, this.signed(tenant, { horizon: next, expired_at: now, days }))
        // no lower bound: also takes what an earlier crash left below the previous horizon
        deleted += (await this.events.deleteMany({ tenant, seq: { $lt: next } })).deletedCount
        horizon = next
      }
      lastBatchMs = performance.now() - batchStarted
      if (firstKept !== undefined) break
      if (upper === through + 1) {
        this.nextExpiry.set(tenant, { at: nothingOlderUntil(now, days), days })
        break
      }
    }
    this.log?.info({ tenant, deleted, horizon }, 'retention sweep of a tenant done')
    return { deleted, horizon, held: false }
  }

  /** The horizon with the checkpoint key's signature: only the holder of the key can move a horizon the verifier accepts. */
  private signed (tenant: string, horizon: RetentionHorizon): RetentionHorizon {
    const signature = this.keys.sign(
      horizonMessage({ tenant, horizon: horizon.horizon, expired_at: horizon.expired_at.toISOString(), days: horizon.days })
    )
    return { ...horizon, key_id: this.keys.current.key_id, signature }
  }

  start (): void {
    if (this.options.intervalMs === 0) return
    // one round at a time: a round longer than the interval is not queued behind, the next follows it
    this.stopRounds = runEvery(() => this.options.intervalMs, async () => {
      await this.sweep().catch((err: unknown) =>
        this.log?.error({ err }, 'a retention sweep failed; the next round starts from the recorded horizon')
      )
    }, this.log, 'a retention sweep round failed')
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.stopRounds?.()
  }
}

/**
 * Everything settled has expired: what is left arrived after `now`, give or take a write in flight
 * (SETTLE_MARGIN_MS), so nothing more can expire before `now + days`.
 */
function nothingOlderUntil (now: Date, days: number): number {
  return now.getTime() + (now.getTime() - expiryCutoff(now, days).getTime()) - SETTLE_MARGIN_MS
}
const SETTLE_MARGIN_MS = 60_000
/** The pause after a batch is at least this many times as long as the batch took. */
const DUTY_RATIO = 19

async function retentionSweeperPlugin (fastify: FastifyInstance, options: SweeperOptions) {
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (fastify.mongo.db === undefined) throw new Error('mongodb plugin has no database')
  const tenantsWithUsers = async () => (await fastify.userStore.collection.distinct('tenant')) as string[]
  const sweeper = new RetentionSweeper(fastify.eventStore.collection, fastify.sequencer, fastify.tenantPolicies, tenantsWithUsers,
    new SlotLease(fastify.mongo.db, 'retention-sweeper', options.leaseMs), fastify.signingKeys, options, fastify.log)
  fastify.decorate('retentionSweeper', sweeper)
  fastify.addHook('onReady', async function startSweeping () { sweeper.start() })
  fastify.addHook('onClose', async function stopSweeping () { await sweeper.stop() })
}

export default fp(retentionSweeperPlugin, {
  fastify: '5.x',
  name: 'retention-sweeper',
  dependencies: ['event-store', 'sequencer', 'policy-store', 'user-store', 'merkle-log']
})
