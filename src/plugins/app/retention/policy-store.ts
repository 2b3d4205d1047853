import fp from 'fastify-plugin'
import type { Collection, Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { ensureIndexes } from '../storage/indexes.js'
import type { SignedHorizon } from '../../../verifier/horizon.js'
import { VersionedRecords } from '../storage/versioned-records.js'

declare module 'fastify' {
  interface FastifyInstance {
    tenantPolicies: TenantPolicies
  }
}

const DAY_MS = 24 * 60 * 60 * 1000

/** A tenant's own retention, set by its admin; a tenant without one has RETENTION_DEFAULT_DAYS. */
interface RetentionPolicyDoc {
  _id: string
  kind: 'retention'
  tenant: string
  days: number
  updated_at: Date
  updated_by: string
}

interface LegalHoldDoc {
  _id: string
  kind: 'legal_hold'
  tenant: string
  active: boolean
  reason: string
  updated_at: Date
  updated_by: string
}

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
  /** Absent only on horizons recorded before they were signed: the verifier then refuses them. */
  key_id?: string
  signature?: string
}

export interface RetentionHorizon { horizon: number, expired_at: Date, days: number, key_id?: string, signature?: string }
export interface RetentionPolicy { days: number, default: boolean, updated_at?: Date, updated_by?: string }
export interface LegalHold { active: boolean, reason: string | null, updated_at?: Date, updated_by?: string }

/**
 * Per-tenant compliance settings: retention policy, legal hold, and the retention horizon. One small
 * document per tenant and setting (replaced whole: the last admin's word wins), and horizons insert-only.
 */
export class TenantPolicies {
  readonly policies: Collection<RetentionPolicyDoc | LegalHoldDoc>
  readonly horizons: VersionedRecords<RetentionHorizonDoc>

  constructor (db: Db, readonly defaultDays: number) {
    this.policies = db.collection('tenant_policies')
    this.horizons = new VersionedRecords(db.collection<RetentionHorizonDoc>('retention_horizons'), ['horizon'])
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.horizons.collection, [{ key: { tenant: 1, horizon: -1 }, name: 'tenant_horizon' }])
  }

  async retention (tenant: string): Promise<RetentionPolicy> {
    const doc = await this.policies.findOne({ _id: `retention:${tenant}` }) as RetentionPolicyDoc | null
    return doc === null
      ? { days: this.defaultDays, default: true }
      : { days: doc.days, default: false, updated_at: doc.updated_at, updated_by: doc.updated_by }
  }

  async setRetention (tenant: string, days: number, by: string): Promise<RetentionPolicy> {
    const doc: RetentionPolicyDoc = { _id: `retention:${tenant}`, kind: 'retention', tenant, days, updated_at: new Date(), updated_by: by }
    await this.policies.replaceOne({ _id: doc._id }, doc, { upsert: true })
    return { days, default: false, updated_at: doc.updated_at, updated_by: by }
  }

  async legalHold (tenant: string): Promise<LegalHold> {
    const doc = await this.policies.findOne({ _id: `legal_hold:${tenant}` }) as LegalHoldDoc | null
    return doc === null
      ? { active: false, reason: null }
      : { active: doc.active, reason: doc.reason, updated_at: doc.updated_at, updated_by: doc.updated_by }
  }

  async setLegalHold (tenant: string, active: boolean, reason: string, by: string): Promise<LegalHold> {
    const doc: LegalHoldDoc = {
      _id: `legal_hold:${tenant}`,
      kind: 'legal_hold',
      tenant,
      active,
      reason,
      updated_at: new Date(),
      updated_by: by
    }
    await this.policies.replaceOne({ _id: doc._id }, doc, { upsert: true })
    return { active, reason, updated_at: doc.updated_at, updated_by: by }
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
    for (const policy of own) days.set(policy.tenant, policy.days)
    for (const [tenant, d] of days) if (d === 0) days.delete(tenant)
    return days
  }

  /** The tenant's retention horizon, or undefined while nothing was ever expired. */
  async retentionHorizon (tenant: string): Promise<RetentionHorizon | undefined> {
    const doc = await this.horizons.newest({ tenant })
    return doc === undefined
      ? undefined
      : { horizon: doc.horizon, expired_at: doc.expired_at, days: doc.days, key_id: doc.key_id, signature: doc.signature }
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
