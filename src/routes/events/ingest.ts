import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errorResponses } from '../../schemas/common.js'
import {
  BatchInputSchema,
  BatchResultSchema,
  EventInputSchema,
  IngestResultSchema,
  MAX_BATCH,
  type EventInput
} from '../../schemas/event.js'
import type { WriteOutcome } from '../../plugins/app/events/event-writer.js'
import type { Principal } from '../../plugins/app/access/authorization.js'
import { EventNotWrittenError, ValidationFailedError } from '../../errors.js'
import { BATCH_BODY_LIMIT, EVENT_BODY_LIMIT } from '../../http/body-limits.js'
import { refuseReservedTypes } from '../../plugins/app/audit/namespace.js'

const writer = { auth: { roles: ['writer' as const] } }

/** A write's outcome, or the refusal of an event its type's schema did not accept (nothing of it written). */
type Checked = WriteOutcome | { status: 'refused', error: string }

const singleEventSchema = {
  tags: ['events'],
  description:
    'Answered once the database has the event. Send your own `event_id` to make retries safe: a repeat is stored once and answered 200 `duplicate`.',
  body: Type.Ref(EventInputSchema),
  response: {
    201: Type.Ref(IngestResultSchema, { description: 'Stored' }),
    200: Type.Ref(IngestResultSchema, { description: "Already stored under this event_id: the first event's id and timestamp" }),
    ...errorResponses({
      400: "Invalid event: the message names the field; for details its type's schema refuses, the path and the rule; or a type not registered, in strict mode",
      413: 'Body too large',
      415: 'Not application/json',
      503: 'Database unreachable or service at capacity; retry after Retry-After seconds (nothing was stored unless event_id makes the retry safe)'
    })
  }
}

/**
 * Writes. Every answer is sent only after the database acknowledged the write holding the event.
 * Events are append-only: there is no route to change or delete one.
 */
const ingestRoutes: FastifyPluginAsyncTypebox = async function ingestRoutes (fastify) {
  /**
   * Writes the events their types' schemas accept (plugins/app/event-types/); one refused gets its error instead,
   * and nothing of it is stored or stripped. An event in the service's own `audit.*` namespace refuses the request.
   */
  async function writeChecked (principal: Principal, events: EventInput[], fieldOf: (index: number) => string): Promise<Checked[]> {
    refuseReservedTypes(events, (i) => `${fieldOf(i)}/event_type`)
    const { versions, errors } = await fastify.eventTypes.check(principal.tenant, events, fieldOf)
    const accepted = events.flatMap((_, i) => (errors[i] === undefined ? [i] : []))
    const outcomes = accepted.length === 0
      ? []
      : await fastify.eventWriter.write(principal, accepted.map((i) => events[i] as EventInput), undefined,
        accepted.map((i) => versions[i]))
    let n = 0
    return events.map((_, i) => {
      const refused = errors[i]
      return refused !== undefined ? { status: 'refused', error: refused } : outcomes[n++] as WriteOutcome
    })
  }

  async function submitOne (request: FastifyRequest<{ Body: EventInput }>, reply: FastifyReply) {
    const [checked] = await writeChecked(request.principal, [request.body], () => 'body')
    return await reply.code(checked?.status === 'created' ? 201 : 200).send(singleAnswer(checked))
  }

  fastify.post('/events', {
    bodyLimit: EVENT_BODY_LIMIT,
    config: writer,
    schema: { ...singleEventSchema, operationId: 'createEvent', summary: 'Record one event' }
  }, submitOne)

  fastify.post(
    '/event',
    {
      bodyLimit: EVENT_BODY_LIMIT,
      config: writer,
      schema: {
        ...singleEventSchema,
        operationId: 'createEventLegacy',
        summary: "Record one event (the original system's path; use POST /events)",
        deprecated: true
      }
    },
    submitOne
  )

  fastify.post(
    '/events/batch',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      config: writer,
      schema: {
        operationId: 'createEventBatch',
        tags: ['events'],
        summary: `Record 1 to ${MAX_BATCH} events in one request`,
        description:
          'An event the schema of the request refuses rejects the whole batch with 400 naming its index and field. Otherwise each item is ' +
          'created, duplicate (same event_id already stored) or error, the others unaffected: its details refused by its type\'s schema ' +
          '(`error` names the path and the rule, as `body/events/3/event_specificdetails/amount must be number (rule type of BillingCharged v2)`), ' +
          'its type not registered in strict mode, or, rarely, refused by the database.',
        body: Type.Ref(BatchInputSchema),
        response: {
          200: Type.Ref(BatchResultSchema, { description: 'One result per event, in input order' }),
          ...errorResponses({
            400: 'Invalid batch: the message names the index and field',
            413: 'Body too large',
            415: 'Not application/json',
            503: 'Database unreachable or service at capacity'
          })
        }
      }
    },
    async function submitBatch (request) {
      return { items: (await writeChecked(request.principal, request.body.events, (i) => `body/events/${i}`)).map(batchItem) }
    }
  )
}

/**
 * A single event that could not be written this time is a 503 to retry (nothing was stored under it).
 * One the database refused after validation is not the client's fault, and not to be described to it. One that
 * cannot be hashed or stored as sent (validation let it through) is a 400 naming the field, like validation's own.
 */
function singleAnswer (outcome: Checked | undefined) {
  if (outcome?.status === 'refused') throw new ValidationFailedError(outcome.error)
  if (outcome?.status === 'error' && outcome.unstorable !== undefined) throw new ValidationFailedError(`body${outcome.unstorable}`)
  if (outcome?.status === 'error' && outcome.retryable === true) throw new EventNotWrittenError()
  if (outcome === undefined || outcome.status === 'error') { throw new Error(`event refused by the database: ${outcome?.error ?? 'no outcome'}`) }
  return receipt(outcome)
}

function batchItem (outcome: Checked, index: number) {
  if (outcome.status === 'refused') return { status: 'error' as const, error: outcome.error }
  if (outcome.status !== 'error') return receipt(outcome)
  return { status: outcome.status, error: outcome.unstorable !== undefined ? `body/events/${index}${outcome.unstorable}` : outcome.error }
}

function receipt (outcome: Exclude<WriteOutcome, { status: 'error' }>) {
  return {
    id: outcome.id,
    seq: outcome.seq,
    timestamp: outcome.timestamp?.toISOString(),
    hash: outcome.hash,
    status: outcome.status,
    ...(outcome.status === 'duplicate' && outcome.conflict === true ? { conflict: true } : {}),
    ...(outcome.receipt === undefined ? {} : { receipt: outcome.receipt })
  }
}

export default ingestRoutes
