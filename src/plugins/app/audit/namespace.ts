import { ValidationFailedError } from '../../../errors.js'

/**
 * The reserved namespace of the events the service records about its own readers and admins. Only the
 * service writes it: a client's event in it is refused (400), so an `audit.*` event is always the
 * service's own word. Compared without case, so `Audit.read.events` is refused too.
 */
export const AUDIT_PREFIX = 'audit.'

export function isReservedEventType (eventType: string): boolean {
  return eventType.toLowerCase().startsWith(AUDIT_PREFIX)
}

/** A 400 naming the first submitted event in the reserved namespace (a whole batch is refused, as for any invalid event). */
export function refuseReservedTypes (events: Array<{ event_type: string }>, fieldOf: (index: number) => string): void {
  const index = events.findIndex((event) => isReservedEventType(event.event_type))
  if (index !== -1) {
    throw new ValidationFailedError(
      `${fieldOf(index)} must not start with "${AUDIT_PREFIX}": that namespace is reserved for the service's own audit events`
    )
  }
}

/** Every audit event type, with what it records: the table in docs/audit-trail.md is checked against this list. */
export const AUDIT_EVENT_TYPES = {
  'audit.read.events': 'a search of events (GET /events, GET /event): the filter and the count returned',
  'audit.read.event': 'one event read by id (GET /events/{id})',
  'audit.read.export': 'an export started (GET /events/export): format and filter; recorded before the first byte is sent',
  'audit.read.export_finished': 'an export ended: the count streamed and whether the client read to the end',
  'audit.read.stream':
    'a live stream opened (GET /events/stream): the filter and the seq it starts after; recorded before the first byte is sent',
  'audit.read.stream_ended':
    'a live stream ended: the count sent, the last seq and why (client_closed, buffer_full, token_expired, revoked, shutting_down, read_failed)',
  'audit.read.completeness': 'a completeness report (GET /integrity/completeness)',
  'audit.read.checkpoint': 'a signed checkpoint read (GET /integrity/checkpoint): the tree size asked for. Recorded until #27; now counted in metrics only',
  'audit.read.inclusion': 'an inclusion proof by seq (GET /integrity/inclusion)',
  'audit.read.event_proof': 'an inclusion proof by event id (GET /events/{id}/proof)',
  'audit.read.consistency': 'a consistency proof (GET /integrity/consistency): from and to. Recorded until #27; now counted in metrics only',
  'audit.read.tile': 'a tile of the tree (GET /integrity/tiles/{level}/{index}). Recorded until #27; now counted in metrics only',
  'audit.read.retention_horizon': 'the signed retention horizon read (GET /integrity/retention-horizon)',
  'audit.read.histogram': 'the timeline of a search (GET /events/histogram): the filter',
  'audit.read.facets': 'the top values of a field in a search (GET /events/facets): the field, the limit and the filter',
  'audit.read.users': "the tenant's users listed or one read (GET /users, GET /users/{username})",
  'audit.read.retention': 'the retention policy or legal hold read',
  'audit.admin.user_created': 'a user created: its name and roles',
  'audit.admin.user_deleted': 'a user deleted',
  'audit.admin.role_changed': "a user's roles changed: the new roles",
  'audit.admin.user_disabled': 'a user disabled',
  'audit.admin.user_enabled': 'a user enabled again',
  'audit.admin.password_set': "a user's password set by an admin (never the password)",
  'audit.admin.retention_changed':
    "the tenant's retention policy: its days, previous days and lock, as an admin set it, as the operator's default applies, or restated; the authority the sweeper applies",
  'audit.admin.legal_hold_set': 'a legal hold set, with its reason (a pending lift is cancelled)',
  'audit.admin.legal_hold_lift_requested': 'one admin asked to lift the legal hold: the reason, and how it may be approved',
  'audit.admin.legal_hold_lifted': 'a legal hold lifted: who asked, who approved, the reason',
  'audit.admin.legal_hold_lift_cancelled': 'a pending lift of the legal hold cancelled',
  'audit.read.erasures': "the tenant's erasure requests listed or one read (GET /tenant/erasures[/{id}])",
  'audit.admin.erasure_requested':
    'a data-subject erasure asked for: who, the reason, the rule (kind and path, never the value) and the request id',
  'audit.admin.erasure_completed': 'an erasure request done: its rule and reason, and how many events matched and were erased',
  'audit.admin.erasure_applied':
    'a batch of an erasure about to be rewritten: the request id and, per event, its seq and the paths erased (what makes an erased path lawful)',
  'audit.admin.log_access_changed':
    "the log's checkpoints and hash tiles made public or not (PUT /tenant/log-access): public, previous_public and the log's origin",
  'audit.admin.api_key_created': 'an API key created: its id, name, roles and expiry (never the key or its hash)',
  'audit.admin.api_key_revoked': 'an API key revoked: its id and name',
  'audit.admin.api_key_expired': 'an API key found past its expiry, once: when it was first refused, or by the periodic check',
  'audit.admin.event_type_changed':
    'an event type registered or changed (PUT /tenant/event-types/{event_type}): the type, its new version, the previous one, deprecation and the schema\'s SHA-256',
  'audit.admin.event_type_policy_changed': 'strict mode turned on or off: whether events of unregistered types are refused',
  'audit.admin.webhook_created': 'a webhook subscription created: its id, url, filter and the seq it starts after (never its secret)',
  'audit.admin.webhook_updated': 'a webhook subscription changed: its id and the changes',
  'audit.admin.webhook_deleted': 'a webhook subscription deleted: its id',
  'audit.auth.login_failed': 'a login refused: unknown user, wrong password or disabled user',
  'audit.auth.login_limited': 'a login refused by a limit (too many attempts)'
} as const
export type AuditEventType = keyof typeof AUDIT_EVENT_TYPES
