import fp from 'fastify-plugin'
import type { Collection, Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { ensureIndexes } from '../storage/indexes.js'
import type { SignedHorizon } from '../../../verifier/horizon.js'
import { VersionedRecords } from '../storage/versioned-records.js'
import { insertUnique, isDuplicateKey } from '../storage/duplicate-key.js'

declare module 'fastify' {
  interface FastifyInstance {
    tenantPolicies: TenantPolicies
  }
}

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * A tenant's retention, set by its admin, or the operator's RETENTION_DEFAULT_DAYS as the sweeper recorded it
 * for the tenant. The document is a copy: the authority is the tenant's log entry at `seq`
 * (`audit.admin.retention_changed`, with the days and the lock), and the sweeper applies a document only
 * when that entry says the same and is the tree's leaf at that seq (docs/retention.md).
 */
export interface RetentionPolicyDoc {
  _id: string
  kind: 'retention'
  tenant: string
  days: number
  updated_at: Date
  updated_by: string
  /** The seq of the log entry that set it; absent on a policy that no entry set, which is never applied. */
  seq?: number
  /** Locked (compliance mode): its days only grow, and nothing unlocks it. */
  locked?: boolean
  /** `default`: RETENTION_DEFAULT_DAYS, recorded by the sweeper; absent: set by an admin. */
  source?: 'default'
}

/** The log entry a policy document names, and what it was written with. */
export interface PolicyEntryRef { seq: number, locked?: boolean, source?: 'default' }

interface LegalHoldDoc {
  _id: string
  kind: 'legal_hold'
  tenant: string
  active: boolean
  reason: string
  updated_at: Date
  updated_by: string
  /** The seq of the log entry that set or lifted it. */
  seq?: number
}

/** A lift of the legal hold one admin asked for: it takes effect only once another admin approves it (or its delay passed). */
interface PendingLiftDoc {
  _id: string
  kind: 'legal_hold_lift'
  tenant: string
  requested_by: string
  requested_at: Date
  reason: string
  /** The seq of the request's log entry. */
  seq: number
  /** In delay mode: not approvable before this. */
  not_before?: Date
}
export type PendingLift = Omit<PendingLiftDoc, '_id' | 'kind' | 'tenant'>

/**
 * "Events with seq < horizon were expired by policy at expired_at, under a policy of `days` days", signed with the
 * checkpoint key (`horizonMessage` in the verifier says over which bytes). Inserted, never updated (`_id` =
 * `tenant:horizon`, the highest wins), like the sequencer's counter marks: FerretDB 1.24 loses concurrent updates
 * of one document, and a horizon must never move back.
 */
export interface RetentionHorizonDoc {
  _id: string
  tenant: string
  horizon: number
  expired_at: Date
  days: number
  /** The seq of the retention entry of the tenant's log it was made under; absent on horizons made before v2. */
  policy_seq?: number
  /** Absent only on horizons recorded before they were signed: the verifier then refuses them. */
  key_id?: string
  signature?: string
}

export interface RetentionHorizon {
  horizon: number
  expired_at: Date
  days: number
  policy_seq?: number
  key_id?: string
  signature?: string
}
export interface RetentionPolicy {
  days: number
  default: boolean
  locked: boolean
  updated_at?: Date
  updated_by?: string
  /** The seq of the log entry that set it. */
  seq?: number
}
export interface LegalHold { active: boolean, reason: string | null, updated_at?: Date, updated_by?: string, seq?: number }

/**
 * Per-tenant compliance settings: retention policy, legal hold, and the retention horizon. One small
 * document per tenant and setting (replaced whole: the last admin's word wins), and horizons insert-only.
 */
export class TenantPolicies {
  readonly policies: Collection<RetentionPolicyDoc | LegalHoldDoc | PendingLiftDoc>
  readonly horizons: VersionedRecords<RetentionHorizonDoc>

  constructor (db: Db, readonly defaultDays: number) {
    this.policies = db.collection('tenant_policies')
    this.horizons = new VersionedRecords(db.collection<RetentionHorizonDoc>('retention_horizons'), ['horizon'])
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.horizons.collection, [{ key: { tenant: 1, horizon: -1 }, name: 'tenant_horizon' }])
  }

  /** The stored policy document as it is, or null: what the sweeper checks against its log entry. */
  async retentionDoc (tenant: string): Promise<RetentionPolicyDoc | null> {
    return await this.policies.findOne({ _id: `retention:${tenant}` }) as RetentionPolicyDoc | null
  }

  async retention (tenant: string): Promise<RetentionPolicy> {
    const doc = await this.retentionDoc(tenant)
    if (doc === null) return { days: this.defaultDays, default: true, locked: false }
    if (doc.source === 'default') return { days: this.defaultDays, default: true, locked: false, seq: doc.seq }
    const { days, updated_at: updatedAt, updated_by: updatedBy, seq } = doc
    return { days, default: false, locked: doc.locked === true, updated_at: updatedAt, updated_by: updatedBy, seq }
  }

  /**
   * Stores the policy that the log entry `entry` set. The newest entry wins: of two admins' changes stored
   * in either order, the one later in the log stays (a document naming a later seq is not replaced). Without
   * `entry` (only tests do that, as an operator writing the database would) the document names no entry,
   * and the sweeper ignores it.
   */
  async setRetention (tenant: string, days: number, by: string, entry?: PolicyEntryRef): Promise<RetentionPolicy> {
    const doc: RetentionPolicyDoc = {
      _id: `retention:${tenant}`,
      kind: 'retention',
      tenant,
      days,
      updated_at: new Date(),
      updated_by: by,
      ...(entry === undefined ? {} : { seq: entry.seq, locked: entry.locked === true }),
      ...(entry?.source === undefined ? {} : { source: entry.source })
    }
    const older = entry === undefined ? {} : { $or: [{ seq: { $lt: entry.seq } }, { seq: { $exists: false } }] }
    try {
      await this.policies.replaceOne({ _id: doc._id, ...older }, doc, { upsert: true })
    } catch (err) {
      // the document names a later entry already: the later change stays
      if (!isDuplicateKey(err)) throw err
    }
    return await this.retention(tenant)
  }

  async legalHold (tenant: string): Promise<LegalHold> {
    const doc = await this.policies.findOne({ _id: `legal_hold:${tenant}` }) as LegalHoldDoc | null
    return doc === null
      ? { active: false, reason: null }
      : { active: doc.active, reason: doc.reason, updated_at: doc.updated_at, updated_by: doc.updated_by, seq: doc.seq }
  }

  async setLegalHold (tenant: string, active: boolean, reason: string, by: string, seq?: number): Promise<LegalHold> {
    const doc: LegalHoldDoc = {
      _id: `legal_hold:${tenant}`,
      kind: 'legal_hold',
      tenant,
      active,
      reason,
      updated_at: new Date(),
      updated_by: by,
      ...(seq === undefined ? {} : { seq })
    }
    await this.policies.replaceOne({ _id: doc._id }, doc, { upsert: true })
    return { active, reason, updated_at: doc.updated_at, updated_by: by, seq }
  }

  /** The lift of the hold waiting for its approval, or null. */
  async pendingLift (tenant: string): Promise<PendingLift | null> {
    const doc = await this.policies.findOne({ _id: `legal_hold_lift:${tenant}` }) as PendingLiftDoc | null
    if (doc === null) return null
    const { _id, kind, tenant: _tenant, ...lift } = doc
    return lift
  }

  /** Records a lift asked for; false when one is pending already (the first stands). */
  async requestLift (tenant: string, lift: PendingLift): Promise<boolean> {
    const doc: PendingLiftDoc = { _id: `legal_hold_lift:${tenant}`, kind: 'legal_hold_lift', tenant, ...lift }
    return await insertUnique(this.policies as unknown as Collection<PendingLiftDoc>, doc)
  }

  /** Takes the pending lift away (approved or cancelled): true for the one caller that took it, when `seq` is still the pending one. */
  async takeLift (tenant: string, seq?: number): Promise<boolean> {
    const result = await this.policies.deleteOne({ _id: `legal_hold_lift:${tenant}`, ...(seq === undefined ? {} : { seq }) })
    return result.deletedCount === 1
  }

  /**
   * The tenants whose events may expire, with their days: those with a policy of their own above 0, and,
   * when the default keeps events for a limited time, every other tenant that has users. A tenant kept
   * forever is not listed, so it costs the sweeper nothing.
   */
  async expiringTenants (tenantsWithUsers: () => Promise<string[]>): Promise<Map<string, number>> {
    const own = await this.policies.find({ kind: 'retention' }).toArray() as RetentionPolicyDoc[]
    const days = new Map<string, number>()
    if (this.defaultDays > 0) for (const tenant of await tenantsWithUsers()) days.set(tenant, this.defaultDays)
    for (const policy of own) days.set(policy.tenant, policy.source === 'default' ? this.defaultDays : policy.days)
    for (const [tenant, d] of days) if (d === 0) days.delete(tenant)
    return days
  }

  /** The tenant's retention horizon, or undefined while nothing was ever expired. */
  async retentionHorizon (tenant: string): Promise<RetentionHorizon | undefined> {
    const doc = await this.horizons.newest({ tenant })
    return doc === undefined
      ? undefined
      : {
          horizon: doc.horizon,
          expired_at: doc.expired_at,
          days: doc.days,
          ...(doc.policy_seq === undefined ? {} : { policy_seq: doc.policy_seq }),
          key_id: doc.key_id,
          signature: doc.signature
        }
  }

  /** The tenant's newest horizon as the signed statement the verifier checks. */
  async signedHorizon (tenant: string): Promise<SignedHorizon | undefined> {
    const horizon = await this.retentionHorizon(tenant)
    if (horizon === undefined) return undefined
    return {
      tenant,
      horizon: horizon.horizon,
      expired_at: horizon.expired_at.toISOString(),
      days: horizon.days,
      ...(horizon.policy_seq === undefined ? {} : { policy_seq: horizon.policy_seq }),
      key_id: horizon.key_id ?? '',
      signature: horizon.signature ?? ''
    }
  }

  /** Records a new horizon; recording one that exists already (a sweep repeated after a crash) is no error. */
  async recordHorizon (tenant: string, horizon: RetentionHorizon): Promise<void> {
    await this.horizons.append({ _id: `${tenant}:${horizon.horizon}`, tenant, ...horizon })
  }
}

/** The receipt time before which a tenant's events expire at `now` under `days`. */
export function expiryCutoff (now: Date, days: number): Date {
  return new Date(now.getTime() - days * DAY_MS)
}

async function tenantPoliciesPlugin (fastify: FastifyInstance, options: { defaultDays: number }) {
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (fastify.mongo.db === undefined) throw new Error('mongodb plugin has no database')
  const policies = new TenantPolicies(fastify.mongo.db, options.defaultDays)
  await policies.ensureIndexes()
  fastify.decorate('tenantPolicies', policies)
}

export default fp(tenantPoliciesPlugin, { fastify: '5.x', name: 'policy-store' })
