import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Collection } from 'mongodb'
import { toPublicEvent, type StoredEvent } from '../events/record.js'
import type { Sequencer } from '../events/sequencer.js'
import { recordEntry, type AuditEntry } from '../audit/audit-trail.js'
import { horizonMessage, RETENTION_CHANGED } from '../../../verifier/horizon.js'
import { holeLeafHash, leafHash, LeafError } from '../../../verifier/leaf.js'
import { runEvery } from '../storage/periodic.js'
import { SlotLease } from '../storage/lease.js'
import { expiryCutoff, type RetentionHorizon, type RetentionPolicyDoc, type TenantPolicies } from './policy-store.js'
import { retentionDefault, retentionRestated, SERVICE_ACTOR, SWEEPER_ORIGIN } from './policy-entries.js'

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

/** The tenant's Merkle tree as the integrity wing holds it: its size and the leaf hash at an index (seq − 1). */
export interface TreeLeaves {
  readonly size: number
  leaf: (index: number) => Promise<Buffer>
}

/** What the sweeper needs of the rest of the service, beyond the database (structural, as HorizonSigner). */
export interface SweeperLinks {
  /** The tenant's tree as of now. */
  tree: (tenant: string) => Promise<TreeLeaves>
  /** Writes a policy entry in the tenant's log; its seq. */
  record: (tenant: string, entry: AuditEntry) => Promise<number>
  /** The integrity alarm: the database contradicts the log (docs/integrity.md). */
  alarm: (tenant: string, message: string) => void
  /** Whether the alarm is raised for the tenant already: then nothing more is signed for it. */
  alarmed: (tenant: string) => boolean
}

/** The policy a sweep applies: the days, and the seq of the log entry that set them. */
interface AuthorizedPolicy { days: number, seq: number }

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
  /** Policy documents already checked against their entry, by tenant: a document unchanged since is not read against its entry again. */
  private readonly checked = new Map<string, string>()
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
    private readonly links: SweeperLinks,
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

  private async sweepTenant (tenant: string, listedDays: number, until: Date): Promise<SweepReport['tenants'][string]> {
    let horizon = (await this.policies.retentionHorizon(tenant))?.horizon ?? 1
    let deleted = 0
    // what a crash between recording a horizon and deleting below it left behind
    if (horizon > 1 && !this.nextExpiry.has(tenant)) {
      deleted += (await this.events.deleteMany({ tenant, seq: { $lt: horizon } })).deletedCount
    }
    if (this.links.alarmed(tenant)) return { deleted, horizon, held: false }
    const tree = await this.links.tree(tenant)
    let policy = await this.authorizedPolicy(tenant, tree)
    if (policy === undefined) return { deleted, horizon, held: false }
    const days = policy.days
    if (days !== listedDays) this.nextExpiry.delete(tenant)
    // only seqs the tree holds: each expired event is checked against its leaf there
    const through = Math.min(await this.sequencer.settledThrough(tenant), tree.size)
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
      const docs = await this.events.find({ tenant, seq: { $gte: horizon, $lt: upper } }).sort({ seq: 1 }).toArray()
      const firstKept = docs.find((doc) => doc.timestamp >= cutoff)
      // the policy's own entry stays: a horizon must name an entry the log holds (restated below, then swept on)
      const next = Math.min(firstKept?.seq ?? upper, policy.seq)
      if (firstKept !== undefined && firstKept.seq <= policy.seq) {
        this.nextExpiry.set(tenant, { at: firstKept.timestamp.getTime() + (now.getTime() - cutoff.getTime()), days })
      }
      if (next > horizon) {
        const forged = await this.contradiction(tenant, tree, horizon, next, docs)
        if (forged !== undefined) {
          this.links.alarm(tenant, `the retention sweep found ${forged}: nothing of the tenant is deleted`)
          return { deleted, horizon, held: false }
        }
        await this.policies.recordHorizon(tenant, this.signed(tenant, { horizon: next, expired_at: now, days, policy_seq: policy.seq }))
        // no lower bound: also takes what an earlier crash left below the previous horizon
        deleted += (await this.events.deleteMany({ tenant, seq: { $lt: next } })).deletedCount
        horizon = next
      }
      lastBatchMs = performance.now() - batchStarted
      if (policy.seq < upper && (firstKept === undefined || firstKept.seq > policy.seq)) {
        // the policy's entry is next to expire: state the policy again at the log's end, and go on under that entry
        policy = await this.restate(tenant, policy)
        continue
      }
      if (firstKept !== undefined) break
      if (upper === through + 1) {
        this.nextExpiry.set(tenant, { at: nothingOlderUntil(now, days), days })
        break
      }
    }
    this.log?.info({ tenant, deleted, horizon }, 'retention sweep of a tenant done')
    return { deleted, horizon, held: false }
  }

  /**
   * The policy to apply, as the tenant's log says it: the stored document must name its log entry, the entry
   * must say the same days and lock, and be the tree's leaf at its seq. Otherwise the document was written
   * around the log (by whoever can write the database): it is ignored, the tenant is not swept, and the
   * alarm is raised. A tenant under the operator's default gets an entry saying so first (unless its log
   * holds a policy of its own already: then its document was deleted, and nothing is swept).
   */
  private async authorizedPolicy (tenant: string, tree: TreeLeaves): Promise<AuthorizedPolicy | undefined> {
    let doc = await this.policies.retentionDoc(tenant)
    const defaultDays = this.policies.defaultDays
    if (doc === null || doc.seq === undefined) {
      // one read of the tenant's log, only while its document names no entry (once, on FerretDB a scan)
      const [own] = await this.events.find({ tenant, event_type: RETENTION_CHANGED }).sort({ seq: -1 }).limit(1).toArray()
      if (doc === null && own !== undefined) {
        this.links.alarm(tenant, `the log sets the tenant's retention at seq ${own.seq}, but its policy is gone from the database`)
        return undefined
      }
      if (doc === null) return defaultDays === 0 ? undefined : await this.recordDefault(tenant, defaultDays)
      // a document stored before policies named their entry: it stands if the newest entry of the log says the same
      const said = own?.event_specificdetails as { days?: unknown, locked?: unknown } | undefined
      if (own !== undefined && said?.days === doc.days && own.seq <= tree.size && (await this.leafMatches(tree, own))) {
        await this.policies.setRetention(tenant, doc.days, doc.updated_by, { seq: own.seq, locked: said.locked === true })
        doc = { ...doc, seq: own.seq, locked: said.locked === true }
      }
    }
    const key = `${doc.seq ?? ''}:${doc.days}:${doc.locked === true}:${doc.source ?? ''}`
    const problem = this.checked.get(tenant) === key ? undefined : await this.entryProblem(tenant, doc, tree)
    if (problem === 'not yet in the tree') return undefined
    if (problem !== undefined) {
      this.links.alarm(tenant, `the stored retention policy (${doc.days} days) is ignored: ${problem}`)
      return undefined
    }
    this.checked.set(tenant, key)
    const seq = doc.seq as number
    // the operator changed RETENTION_DEFAULT_DAYS: the log says so before it applies
    if (doc.source === 'default' && doc.days !== defaultDays) return defaultDays === 0 ? undefined : await this.recordDefault(tenant, defaultDays)
    return { days: doc.days, seq }
  }

  /** What is wrong with a policy document against its log entry, or undefined when they agree. */
  private async entryProblem (tenant: string, doc: RetentionPolicyDoc, tree: TreeLeaves): Promise<string | undefined> {
    if (doc.seq === undefined) return 'no entry of the log set it'
    if (doc.seq > tree.size) return 'not yet in the tree'
    const entry = await this.events.findOne({ tenant, seq: doc.seq })
    if (entry === null) return `the log entry it names (seq ${doc.seq}) is not in the log`
    const details = (entry.event_specificdetails ?? {}) as { days?: unknown, locked?: unknown }
    if (entry.event_type !== RETENTION_CHANGED || details.days !== doc.days || (details.locked === true) !== (doc.locked === true)) {
      return `the log entry at seq ${doc.seq} says otherwise`
    }
    if (!(await this.leafMatches(tree, entry))) return `the log entry at seq ${doc.seq} is not the one the tree holds`
    return undefined
  }

  private async recordDefault (tenant: string, days: number): Promise<AuthorizedPolicy> {
    const seq = await this.links.record(tenant, retentionDefault(days))
    await this.policies.setRetention(tenant, days, SERVICE_ACTOR, { seq, source: 'default' })
    this.log?.info({ tenant, days, seq }, "the operator's default retention recorded in the tenant's log")
    return { days, seq }
  }

  private async restate (tenant: string, policy: AuthorizedPolicy): Promise<AuthorizedPolicy> {
    const doc = await this.policies.retentionDoc(tenant)
    const locked = doc?.locked === true
    const source = doc?.source
    const seq = await this.links.record(tenant, retentionRestated(policy.days, locked, policy.seq, source))
    const entry = { seq, locked, ...(source === undefined ? {} : { source }) }
    await this.policies.setRetention(tenant, policy.days, doc?.updated_by ?? SERVICE_ACTOR, entry)
    return { days: policy.days, seq }
  }

  /**
   * Before anything is deleted: every seq of [from, to) must be what the tree holds there, an event whose leaf
   * (recomputed from its own fields, never its stored hash) is the tree's, or no event where the tree has a
   * hole's filler. A back-dated timestamp, an event deleted by hand or a rewritten one fails it; what was found.
   */
  private async contradiction (
    tenant: string,
    tree: TreeLeaves,
    from: number,
    to: number,
    docs: StoredEvent[]
  ): Promise<string | undefined> {
    const bySeq = new Map(docs.map((doc) => [doc.seq, doc]))
    for (let seq = from; seq < to; seq++) {
      const doc = bySeq.get(seq)
      if (doc === undefined) {
        if ((await tree.leaf(seq - 1)).toString('hex') !== holeLeafHash(tenant, seq)) return `seq ${seq} missing, where the tree holds an event`
      } else if (!(await this.leafMatches(tree, doc))) {
        return `the event at seq ${seq} differs from the tree's leaf (its timestamp or another field was changed)`
      }
    }
    return undefined
  }

  private async leafMatches (tree: TreeLeaves, doc: StoredEvent): Promise<boolean> {
    let leaf: string
    try {
      leaf = leafHash(toPublicEvent(doc) as unknown as Record<string, unknown>)
    } catch (err) {
      if (err instanceof LeafError) return false
      throw err
    }
    return leaf === (await tree.leaf(doc.seq - 1)).toString('hex')
  }

  /** The horizon with the checkpoint key's signature: only the holder of the key can move a horizon the verifier accepts. */
  private signed (tenant: string, horizon: RetentionHorizon): RetentionHorizon {
    const signature = this.keys.sign(
      horizonMessage({
        tenant,
        horizon: horizon.horizon,
        expired_at: horizon.expired_at.toISOString(),
        days: horizon.days,
        policy_seq: horizon.policy_seq
      })
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
interface IntegrityAlarmLike {
  raise: (violation: { tenant: string, message: string }) => void
  isRaised: (tenant: string) => boolean
}

/** The pause after a batch is at least this many times as long as the batch took. */
const DUTY_RATIO = 19

async function retentionSweeperPlugin (fastify: FastifyInstance, options: SweeperOptions) {
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (fastify.mongo.db === undefined) throw new Error('mongodb plugin has no database')
  const tenantsWithUsers = async () => (await fastify.userStore.collection.distinct('tenant')) as string[]
  // the integrity wing's alarm (readiness warning, metric); structural, so this wing does not depend on its shape
  const alarm = (fastify as unknown as { integrityAlarm?: IntegrityAlarmLike }).integrityAlarm
  const links: SweeperLinks = {
    tree: async (tenant) => await fastify.merkleTrees.view(tenant),
    record: async (tenant, entry) =>
      await recordEntry(fastify.eventWriter, { tenant, username: SERVICE_ACTOR }, SWEEPER_ORIGIN, entry),
    alarm: (tenant, message) => {
      if (alarm !== undefined) alarm.raise({ tenant, message })
      else fastify.log.error({ tenant }, `INTEGRITY VIOLATION in tenant ${tenant}: ${message}`)
    },
    alarmed: (tenant) => alarm?.isRaised(tenant) ?? false
  }
  const sweeper = new RetentionSweeper(fastify.eventStore.collection, fastify.sequencer, fastify.tenantPolicies, tenantsWithUsers,
    new SlotLease(fastify.mongo.db, 'retention-sweeper', options.leaseMs), fastify.signingKeys, options, links, fastify.log)
  fastify.decorate('retentionSweeper', sweeper)
  fastify.addHook('onReady', async function startSweeping () { sweeper.start() })
  fastify.addHook('onClose', async function stopSweeping () { await sweeper.stop() })
}

export default fp(retentionSweeperPlugin, {
  fastify: '5.x',
  name: 'retention-sweeper',
  dependencies: ['event-store', 'sequencer', 'event-writer', 'policy-store', 'user-store', 'merkle-log']
})
