import type { AuditEntry, AuditSpec } from '../audit/audit-trail.js'
import type { ErasureRequestDoc } from './request-store.js'
import { ERASURE_APPLIED } from '../../../verifier/erasure.js'

/**
 * The erasure's own records in the tenant's log: who asked, why, the rule and the count, never the value.
 * The rule is its kind and path (and the request id, a keyed fingerprint); a username or details value
 * would put back into the log what the request takes out of it. Written whatever AUDIT_ACCESS says: an
 * erasure changes stored events, and the log must say so.
 */

function ruleDetails (request: ErasureRequestDoc): Record<string, unknown> {
  return { request: request._id, match: request.rule, fields: request.fields, reason: request.reason, requested_by: request.requested_by }
}

export function erasureRequested (request: ErasureRequestDoc, by: string, repeat: boolean): AuditEntry {
  return {
    event_type: 'audit.admin.erasure_requested',
    entitytype: 'erasure_request',
    description: `${by} asked to erase a data subject's ${request.fields === null ? 'personal data' : request.fields.join(', ')} (matched by ${request.rule.kind}), request ${request._id}${repeat ? ', a repeat of an earlier identical request' : ''}`,
    details: { ...ruleDetails(request), repeat }
  }
}

export function erasureCompleted (request: ErasureRequestDoc, matched: number, erased: number): AuditEntry {
  return {
    event_type: 'audit.admin.erasure_completed',
    entitytype: 'erasure_request',
    description: `Erasure request ${request._id} of ${request.requested_by} done: ${erased} of ${matched} matching events erased`,
    details: { ...ruleDetails(request), matched, erased }
  }
}

/** What one batch of an erasure rewrites: each event's seq and the paths erased in it. */
export interface ErasedPaths { seq: number, paths: string[] }

/**
 * The log's word that these paths of these events are erased by this request: written before the batch
 * rewrites them, so no erased path exists that the log does not cover. The verifier and the viewer refuse
 * an erased path without such an entry (`erased without a request`): whoever can write the database can
 * null a field and keep its commitment, but cannot add an entry to the signed tree. `seqs` is there to be
 * searched (`details.seqs=N`); paths hold no personal data, so the entry's details are never erased.
 */
export function erasureApplied (request: ErasureRequestDoc, items: ErasedPaths[]): AuditEntry {
  return {
    event_type: ERASURE_APPLIED,
    entitytype: 'erasure_request',
    description: `Erasure request ${request._id} of ${request.requested_by} erases ${items.length} events`,
    details: { request: request._id, seqs: items.map((item) => item.seq), erased: items }
  }
}

/** Reads of the requests are access-audited like any other read (config.audit). */
export const auditErasureRead: AuditSpec = (request) => {
  const { id } = (request.params ?? {}) as { id?: string }
  return {
    event_type: 'audit.read.erasures',
    entitytype: 'erasure_request',
    description: `${request.principal.username} read ${id === undefined ? 'the tenant\'s erasure requests' : `erasure request ${id}`}`,
    details: id === undefined ? {} : { request: id }
  }
}
