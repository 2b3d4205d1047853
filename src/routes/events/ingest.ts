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
import { EventNotWrittenError, ValidationFailedError } from '../../errors.js'
import { BATCH_BODY_LIMIT, EVENT_BODY_LIMIT } from '../../http/body-limits.js'
import { refuseReservedTypes } from '../../plugins/app/audit/namespace.js'

const writer = { auth: { roles: ['writer' as const] } }

const singleEventSchema = {
  tags: ['events'],
  description:
    'Answered once the database has the event. Send your own `event_id` to make retries safe: a repeat is stored once and answered 200 `duplicate`.',
  body: Type.Ref(EventInputSchema),
  response: {
    201: Type.Ref(IngestResultSchema, { description: 'Stored' }),
    200: Type.Ref(IngestResultSchema, { description: "Already stored under this event_id: the first event's id and timestamp" }),
    ...errorResponses({
      400: 'Invalid event: the message names the field',
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
  async function submitOne (request: FastifyRequest<{ Body: EventInput }>, reply: FastifyReply) {
    refuseReservedTypes([request.body], () => 'body/event_type')
    const [outcome] = await fastify.eventWriter.write(request.principal, [request.body])
    return await reply.code(outcome?.status === 'created' ? 201 : 200).send(singleAnswer(outcome))
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
          'Any invalid event rejects the whole batch with 400 naming its index and field. Otherwise each item is ' +
          'created, duplicate (same event_id already stored) or, rarely, error (refused by the database, the others unaffected).',
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
      refuseReservedTypes(request.body.events, (i) => `body/events/${i}/event_type`)
      return { items: (await fastify.eventWriter.write(request.principal, request.body.events)).map(batchItem) }
    }
  )
}

/**
 * A single event that could not be written this time is a 503 to retry (nothing was stored under it).
 * One the database refused after validation is not the client's fault, and not to be described to it. One that
 * cannot be hashed or stored as sent (validation let it through) is a 400 naming the field, like validation's own.
 */
function singleAnswer (outcome: WriteOutcome | undefined) {
  if (outcome?.status === 'error' && outcome.unstorable !== undefined) throw new ValidationFailedError(`body${outcome.unstorable}`)
  if (outcome?.status === 'error' && outcome.retryable === true) throw new EventNotWrittenError()
  if (outcome === undefined || outcome.status === 'error') { throw new Error(`event refused by the database: ${outcome?.error ?? 'no outcome'}`) }
  return receipt(outcome)
}

function batchItem (outcome: WriteOutcome, index: number) {
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
