import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import type { EventInput } from '../../../schemas/event.js'
import { EventNotWrittenError } from '../../../errors.js'
import type { EventWriter } from '../events/event-writer.js'
import type { AuditEventType } from './namespace.js'
import { appendRouteHook } from '../http/route-hooks.js'
import { requestOrigin, type RequestOrigin } from '../../../http/request-origin.js'

/** One audit event, as a route describes it; who, from where and on which route are filled in here. */
export interface AuditEntry {
  event_type: AuditEventType
  /** What was touched: `event`, `user`, `tenant_policy`, `session`. */
  entitytype: string
  /** In plain words. */
  description: string
  /** The specifics: filter, result count, target user. Never a password or a token. */
  details?: Record<string, unknown>
}

/**
 * What a route records about a successful call: from the request and, when the route answered with an
 * object, that answer (to count results). `undefined` records nothing (e.g. a PATCH that changed nothing).
 */
export type AuditSpec = (request: FastifyRequest, answer: unknown) => AuditEntry | AuditEntry[] | undefined

/** Whom an audit event is about and whose log it goes to: the caller, or the name a refused login gave. */
export interface Actor { tenant: string, username: string }

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's calls are recorded in the caller's tenant log before its answer goes out. */
    audit?: AuditSpec
  }
  interface FastifyInstance {
    auditTrail: AuditTrail
  }
}

/** The event an audit entry is stored as: the actor, from where, on which route (or which background task). */
export function auditEventInput (actor: Actor, origin: RequestOrigin, entry: AuditEntry): EventInput {
  return {
    event_type: entry.event_type,
    username: actor.username,
    entitytype: entry.entitytype,
    ip: origin.ip,
    location: origin.location,
    description: entry.description,
    event_specificdetails: entry.details ?? {}
  }
}

/**
 * Stores one entry the log must hold before a change applies (a policy, a key, a webhook, an erasure, an event
 * type), through the one write path: its seq, or throws 503 EVENT_NOT_WRITTEN, so nothing changes unrecorded.
 * For wings registered before the audit trail, which hold the writer but not `fastify.auditTrail`.
 */
export async function recordEntry (writer: EventWriter, actor: Actor, origin: RequestOrigin, entry: AuditEntry): Promise<number> {
  const [outcome] = await writer.write(actor, [auditEventInput(actor, origin, entry)])
  if (outcome?.status !== 'created') throw new EventNotWrittenError()
  return outcome.seq
}

const answerKey = Symbol('audited answer')
type WithAnswer = FastifyRequest & { [answerKey]?: unknown }

/**
 * The log audits its own readers and admins. Audit events go through the one write path, so they are
 * sequenced like any other event and share group commits with ingest: a read costs a place in a bulk
 * insert, not a write of its own.
 *
 * A read whose audit event cannot be stored fails (503) rather than answering unrecorded: an auditor
 * must be able to trust that every answered read is in the log. The price is that reads stop when
 * writes do, which they would anyway on the same database.
 */
export class AuditTrail {
  constructor (private readonly writer: EventWriter, readonly enabled: boolean) {}

  /** Stores the entries, or throws: the caller's answer must not go out unrecorded. */
  async record (actor: Actor, request: FastifyRequest, entries: AuditEntry[]): Promise<void> {
    if (!this.enabled || entries.length === 0) return
    const origin = requestOrigin(request)
    const inputs = entries.map((entry) => auditEventInput(actor, origin, entry))
    const outcomes = await this.writer.write(actor, inputs)
    const failed = outcomes.find((outcome) => outcome.status === 'error')
    if (failed === undefined) return
    // a fault of the service (what it recorded has no stored form), not of the request: logged with the reason
    if (failed.status === 'error' && failed.unstorable !== undefined) {
      request.log.error({ audit: entries.map((entry) => entry.event_type), reason: failed.error }, 'an audit event cannot be stored')
    }
    throw new EventNotWrittenError()
  }

  /**
   * An entry the log must hold whatever AUDIT_ACCESS says (who may write, an API key's life): its seq, or
   * throws 503 EVENT_NOT_WRITTEN, so nothing changes unrecorded.
   */
  async recordAlways (actor: Actor, origin: RequestOrigin, entry: AuditEntry): Promise<number> {
    return await recordEntry(this.writer, actor, origin, entry)
  }

  /** For what happens after the answer has gone (an export's end, a refused login): a failure is logged, not answered. */
  recordLater (actor: Actor, request: FastifyRequest, entries: AuditEntry[]): void {
    this.record(actor, request, entries).catch((err: unknown) =>
      request.log.error({ err, audit: entries.map((entry) => entry.event_type) }, 'an audit event could not be stored')
    )
  }
}

async function auditTrailPlugin (fastify: FastifyInstance, options: { enabled: boolean }) {
  const trail = new AuditTrail(fastify.eventWriter, options.enabled)
  fastify.decorate('auditTrail', trail)

  fastify.addHook('onRoute', function auditDeclaredRoutes (route: RouteOptions) {
    const spec = route.config?.audit
    if (spec === undefined) return
    // the answer as an object, before it becomes text: what an audit entry may count
    appendRouteHook(route, 'preSerialization', async function keepAnswer (request: WithAnswer, _reply: FastifyReply, payload: unknown) {
      request[answerKey] = payload
      return payload
    })
    // onSend runs for every answer, streams and 204s included, and the answer waits for it
    appendRouteHook(route, 'onSend', async function recordAccess (request: WithAnswer, reply: FastifyReply, payload: unknown) {
      if (reply.statusCode >= 400) return payload
      const entries = spec(request, request[answerKey])
      try {
        await trail.record(request.principal, request, entries === undefined ? [] : Array.isArray(entries) ? entries : [entries])
      } catch (err) {
        // an export's stream that will never be sent must still close its database cursor
        if (isDestroyable(payload)) payload.destroy()
        throw err
      }
      return payload
    })
  })
}

function isDestroyable (payload: unknown): payload is { destroy: () => void } {
  return typeof (payload as { destroy?: unknown } | null)?.destroy === 'function'
}

export default fp(auditTrailPlugin, { fastify: '5.x', name: 'audit-trail', dependencies: ['event-writer'] })
