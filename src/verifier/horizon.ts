/**
 * A signed statement of retention: "every event of `tenant` with a seq below `horizon` was expired by
 * policy at `expired_at`, under a policy of `days` days". The service signs one with its checkpoint key
 * each time the retention sweeper moves a tenant's horizon, and the verifier accepts the events below it
 * being absent only on such a statement.
 */
export interface SignedHorizon {
  tenant: string
  horizon: number
  expired_at: string
  days: number
  /**
   * v2: the seq of the retention entry of the tenant's log (`audit.admin.retention_changed`, with `details.days`)
   * that the horizon was made under. The verifier accepts the horizon only if the export holds that entry, with
   * these days, recorded before expired_at. Absent on a v1 horizon, signed before horizons named their policy.
   */
  policy_seq?: number
  key_id: string
  signature: string
}

/**
 * The bytes the Ed25519 signature covers: the UTF-8 of six lines, each ending in "\n":
 * `audit-log retention horizon v2`, the tenant, the horizon in decimal, expired_at exactly as given
 * (RFC 3339), the days in decimal, and the policy entry's seq in decimal. A v1 horizon (no `policy_seq`) has
 * the first five lines, its first `… v1`. The first line keeps it from ever reading as a checkpoint, and a
 * v1 statement from ever reading as a v2 one.
 */
export function horizonMessage (statement: Pick<SignedHorizon, 'tenant' | 'horizon' | 'expired_at' | 'days' | 'policy_seq'>): Buffer {
  const common = `${statement.tenant}\n${statement.horizon}\n${statement.expired_at}\n${statement.days}\n`
  return Buffer.from(
    statement.policy_seq === undefined
      ? `audit-log retention horizon v1\n${common}`
      : `audit-log retention horizon v2\n${common}${statement.policy_seq}\n`
  )
}

/**
 * The event type under which the service records a retention policy, with `details.days` (and `details.locked`):
 * an admin's change, the operator's default as the sweeper first applies it to a tenant (`details.source`
 * `default`), or the policy restated at the log's end before its entry would itself expire (`details.restates`).
 */
export const RETENTION_CHANGED = 'audit.admin.retention_changed'
