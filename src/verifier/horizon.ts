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
  key_id: string
  signature: string
}

/**
 * The bytes the Ed25519 signature covers: the UTF-8 of five lines, each ending in "\n":
 * `audit-log retention horizon v1`, the tenant, the horizon in decimal, expired_at exactly as given
 * (RFC 3339), and the days in decimal. Its first line keeps it from ever reading as a checkpoint.
 */
export function horizonMessage (statement: Pick<SignedHorizon, 'tenant' | 'horizon' | 'expired_at' | 'days'>): Buffer {
  return Buffer.from(
    `audit-log retention horizon v1\n${statement.tenant}\n${statement.horizon}\n${statement.expired_at}\n${statement.days}\n`
  )
}

/** The event type under which the service records a change of retention policy, with `details.days`. */
export const RETENTION_CHANGED = 'audit.admin.retention_changed'
