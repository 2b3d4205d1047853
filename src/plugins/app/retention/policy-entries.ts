import type { AuditEntry } from '../audit/audit-trail.js'
import { RETENTION_CHANGED } from '../../../verifier/horizon.js'
import { taskOrigin } from '../../../http/request-origin.js'

/**
 * The tenant's log entries that are its retention and legal-hold settings. They are written first, and the
 * stored setting names the seq of its entry: the entry is the authority (the sweeper applies a stored policy
 * only as its entry says it, and the verifier accepts a horizon only under such an entry), so whoever can write
 * the database cannot set a policy the log does not hold. Written whatever AUDIT_ACCESS says.
 */

export const SWEEPER_ORIGIN = taskOrigin('retention sweeper')
/** The username of entries the service writes on its own (the operator's default, a restatement). */
export const SERVICE_ACTOR = 'system'

function describeDays (days: number): string {
  return days === 0 ? 'forever' : `${days} days`
}

export function retentionChanged (by: string, days: number, previous: number, locked: boolean, locking: boolean): AuditEntry {
  return {
    event_type: RETENTION_CHANGED,
    entitytype: 'tenant_policy',
    description: `${by} set the retention to ${describeDays(days)}${locking ? ' and locked it' : locked ? ' (locked)' : ''}`,
    details: { days, previous_days: previous, locked }
  }
}

/** The operator's RETENTION_DEFAULT_DAYS, recorded in a tenant's log before the sweeper first applies it there. */
export function retentionDefault (days: number): AuditEntry {
  return {
    event_type: RETENTION_CHANGED,
    entitytype: 'tenant_policy',
    description: `The operator's default retention of ${describeDays(days)} applies (RETENTION_DEFAULT_DAYS)`,
    details: { days, locked: false, source: 'default' }
  }
}

/** The policy again at the log's end: its entry is about to expire under it, and a horizon must name an entry the log holds. */
export function retentionRestated (days: number, locked: boolean, restates: number, source?: 'default'): AuditEntry {
  return {
    event_type: RETENTION_CHANGED,
    entitytype: 'tenant_policy',
    description: `The retention of ${describeDays(days)} restated: the entry that set it (seq ${restates}) expires under it`,
    details: { days, locked, restates, ...(source === undefined ? {} : { source }) }
  }
}

export function legalHoldSet (by: string, reason: string, cancelledLift: number | undefined): AuditEntry {
  return {
    event_type: 'audit.admin.legal_hold_set',
    entitytype: 'tenant_policy',
    description: `${by} set the legal hold: ${reason}${cancelledLift === undefined ? '' : ' (the pending lift is cancelled)'}`,
    details: { active: true, reason, ...(cancelledLift === undefined ? {} : { cancels_lift: cancelledLift }) }
  }
}

export function legalHoldLiftRequested (by: string, reason: string, mode: LiftMode, notBefore: Date | undefined): AuditEntry {
  return {
    event_type: 'audit.admin.legal_hold_lift_requested',
    entitytype: 'tenant_policy',
    description:
      `${by} asked to lift the legal hold: ${reason}; ` +
      (mode === 'two-admins' ? 'another admin must approve it' : `approvable from ${notBefore?.toISOString() ?? ''}, cancellable until then`),
    details: { reason, mode, ...(notBefore === undefined ? {} : { not_before: notBefore.toISOString() }) }
  }
}

export function legalHoldLifted (by: string, lift: { requested_by: string, reason: string, seq: number }): AuditEntry {
  return {
    event_type: 'audit.admin.legal_hold_lifted',
    entitytype: 'tenant_policy',
    description: `${by} approved the lift of the legal hold that ${lift.requested_by} asked for: ${lift.reason}`,
    details: { active: false, reason: lift.reason, requested_by: lift.requested_by, approved_by: by, request: lift.seq }
  }
}

export function legalHoldLiftCancelled (by: string, lift: { requested_by: string, seq: number }): AuditEntry {
  return {
    event_type: 'audit.admin.legal_hold_lift_cancelled',
    entitytype: 'tenant_policy',
    description: `${by} cancelled the lift of the legal hold that ${lift.requested_by} asked for`,
    details: { requested_by: lift.requested_by, request: lift.seq }
  }
}

/** How a legal hold is lifted (LEGAL_HOLD_LIFT_MODE): approved by a second admin, or by anyone once a delay passed. */
export type LiftMode = 'two-admins' | 'delay'
