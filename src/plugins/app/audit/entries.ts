import type { FastifyRequest } from 'fastify'
import type { AuditEntry, AuditSpec } from './audit-trail.js'

/**
 * What each audited route records: routes declare one of these in `config.audit`. A route added later
 * (proofs, checkpoints, streams) only picks or adds one here. Details never hold a password or a token.
 */

/**
 * A query string as audit details. Details filters are kept apart as `{path, values}`: a key with a `.`
 * cannot be stored in event_specificdetails. So `details[filter][username]=X` finds the reads that asked
 * for user X.
 */
export function filterDetails (query: Record<string, unknown>): Record<string, unknown> {
  const filter: Record<string, unknown> = {}
  const detailsFilter: Array<Record<string, unknown>> = []
  for (const [name, value] of Object.entries(query)) {
    if (name === 'cursor' || value === undefined) continue
    if (name.startsWith('details.')) {
      const path = name.slice('details.'.length)
      detailsFilter.push(path.endsWith(':exists') ? { path: path.slice(0, -':exists'.length), exists: value } : { path, values: value })
    } else {
      filter[name] = value
    }
  }
  if (detailsFilter.length > 0) filter.details = detailsFilter
  return filter
}

function queryOf (request: FastifyRequest): Record<string, unknown> {
  return (request.query ?? {}) as Record<string, unknown>
}

function itemsOf (answer: unknown): unknown[] | undefined {
  const items = (answer as { items?: unknown } | undefined)?.items
  return Array.isArray(items) ? items : undefined
}

export const auditEventSearch: AuditSpec = (request, answer) => {
  const query = queryOf(request)
  const count = itemsOf(answer)?.length ?? 0
  return {
    event_type: 'audit.read.events',
    entitytype: 'event',
    description: `${request.principal.username} searched the events and was shown ${count}`,
    details: {
      filter: filterDetails(query),
      result_count: count,
      next_page: (answer as { next_cursor?: unknown } | undefined)?.next_cursor != null,
      continued: query.cursor !== undefined
    }
  }
}

export const auditEventRead: AuditSpec = (request) => {
  const { id } = request.params as { id: string }
  return {
    event_type: 'audit.read.event',
    entitytype: 'event',
    description: `${request.principal.username} read event ${id}`,
    details: { event: id }
  }
}

export const auditExportStart: AuditSpec = (request) => {
  const { format, ...filter } = queryOf(request)
  return {
    event_type: 'audit.read.export',
    entitytype: 'event',
    description: `${request.principal.username} started a ${String(format)} export of events`,
    details: { format, filter: filterDetails(filter) }
  }
}

/** Recorded when the export's stream ends: after the answer, so best effort (see AuditTrail.recordLater). */
export function exportFinished (request: FastifyRequest, count: number, finished: boolean): AuditEntry {
  const { format, ...filter } = queryOf(request)
  return {
    event_type: 'audit.read.export_finished',
    entitytype: 'event',
    description: `${request.principal.username}'s ${String(format)} export ${finished ? 'ended' : 'was abandoned'} after ${count} events`,
    details: { format, filter: filterDetails(filter), result_count: count, finished }
  }
}

/** A live stream opened (GET /events/stream): recorded before its first byte; its position and filter. */
export function streamOpened (request: FastifyRequest, after: number): AuditEntry {
  const { afterSeq, ...filter } = queryOf(request)
  return {
    event_type: 'audit.read.stream',
    entitytype: 'event',
    description: `${request.principal.username} opened a live stream of events after seq ${after}`,
    details: { filter: filterDetails(filter), after_seq: after }
  }
}

/** A live stream ended: how many events it sent and why it ended (best effort, like an export's end). */
export function streamEnded (request: FastifyRequest, count: number, lastSeq: number, reason: string): AuditEntry {
  const { afterSeq, ...filter } = queryOf(request)
  return {
    event_type: 'audit.read.stream_ended',
    entitytype: 'event',
    description: `${request.principal.username}'s live stream ended (${reason.replace('_', ' ')}) after ${count} events`,
    details: { filter: filterDetails(filter), result_count: count, last_seq: lastSeq, reason }
  }
}

export const auditCompleteness: AuditSpec = (request, answer) => ({
  event_type: 'audit.read.completeness',
  entitytype: 'event_log',
  description: `${request.principal.username} checked the completeness of the log`,
  details: { filter: filterDetails(queryOf(request)), complete: (answer as { complete?: unknown } | undefined)?.complete }
})

export const auditUserList: AuditSpec = (request, answer) => {
  const count = itemsOf(answer)?.length ?? 0
  return {
    event_type: 'audit.read.users',
    entitytype: 'user',
    description: `${request.principal.username} listed the tenant's ${count} users`,
    details: { result_count: count }
  }
}

export const auditUserRead: AuditSpec = (request) => {
  const { username } = request.params as { username: string }
  return {
    event_type: 'audit.read.users',
    entitytype: 'user',
    description: `${request.principal.username} read user ${username}`,
    details: { target_user: username, result_count: 1 }
  }
}

export const auditUserCreated: AuditSpec = (request) => {
  const { username, roles } = request.body as { username: string, roles: string[] }
  return {
    event_type: 'audit.admin.user_created',
    entitytype: 'user',
    description: `${request.principal.username} created user ${username} with roles ${roles.join(', ')}`,
    details: { target_user: username, roles }
  }
}

export const auditUserDeleted: AuditSpec = (request) => {
  const { username } = request.params as { username: string }
  return {
    event_type: 'audit.admin.user_deleted',
    entitytype: 'user',
    description: `${request.principal.username} deleted user ${username}`,
    details: { target_user: username }
  }
}

/** One event per kind of change, so each can be filtered on its own type; the password itself never. */
export const auditUserChanged: AuditSpec = (request) => {
  const { username } = request.params as { username: string }
  const changes = request.body as { roles?: string[], disabled?: boolean, password?: string }
  const admin = request.principal.username
  const entries: AuditEntry[] = []
  if (changes.roles !== undefined) {
    entries.push({
      event_type: 'audit.admin.role_changed',
      entitytype: 'user',
      description: `${admin} set the roles of ${username} to ${changes.roles.join(', ')}`,
      details: { target_user: username, roles: changes.roles }
    })
  }
  if (changes.disabled === true) {
    entries.push({
      event_type: 'audit.admin.user_disabled',
      entitytype: 'user',
      description: `${admin} disabled user ${username}`,
      details: { target_user: username }
    })
  }
  if (changes.disabled === false) {
    entries.push({
      event_type: 'audit.admin.user_enabled',
      entitytype: 'user',
      description: `${admin} enabled user ${username}`,
      details: { target_user: username }
    })
  }
  if (changes.password !== undefined) {
    entries.push({
      event_type: 'audit.admin.password_set',
      entitytype: 'user',
      description: `${admin} set a new password for ${username}`,
      details: { target_user: username }
    })
  }
  return entries
}

export const auditPolicyRead: AuditSpec = (request) => ({
  event_type: 'audit.read.retention',
  entitytype: 'tenant_policy',
  description: `${request.principal.username} read the tenant's ${request.url.includes('legal-hold') ? 'legal hold' : 'retention policy'}`
})

/** A read of what the tenant's tree proves (checkpoints, proofs, tiles), with the parameters it was asked with. */
export function auditIntegrityRead (
  what: 'checkpoint' | 'inclusion' | 'consistency' | 'tile' | 'event_proof' | 'retention_horizon'
): AuditSpec {
  return (request) => {
    const asked = { ...queryOf(request), ...(request.params as Record<string, unknown> | undefined) }
    return {
      event_type: `audit.read.${what}`,
      entitytype: 'integrity',
      description: `${request.principal.username} read the log's ${what.replace('_', ' ')}`,
      details: asked
    }
  }
}

export const auditFacets: AuditSpec = (request) => {
  const { field, limit, ...filter } = queryOf(request)
  return {
    event_type: 'audit.read.facets',
    entitytype: 'event',
    description: `${request.principal.username} read the top values of ${String(field)} in a search`,
    details: { field, limit, filter: filterDetails(filter) }
  }
}

export const auditHistogram: AuditSpec = (request) => ({
  event_type: 'audit.read.histogram',
  entitytype: 'event',
  description: `${request.principal.username} read the timeline of a search`,
  details: { filter: filterDetails(queryOf(request)) }
})
