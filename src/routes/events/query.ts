import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { errorResponses } from '../../schemas/common.js'
import { EventSchema } from '../../schemas/event.js'
import { auditEventRead, auditEventSearch, auditExportStart, exportFinished } from '../../plugins/app/audit/entries.js'
import {
  EventExportQuerySchema,
  EventIdParams,
  EventListQuerySchema,
  EventPageSchema,
  FILTERS_DESCRIPTION,
  type EventListQuery
} from '../../schemas/event-query.js'
import { SCAN_COSTS } from '../../plugins/app/http/scan-admission.js'

/** Reads of the event log: the reader role, a slot of the scan admission control, and an audit event. */
const reader = { auth: { roles: ['reader' as const] }, scan: true }
const search = { ...reader, audit: auditEventSearch }

const listSchema = {
  tags: ['events'],
  description:
    FILTERS_DESCRIPTION + ' Pages are keyset-paginated on (timestamp, id): they never skip or repeat an event, even while new ones arrive.',
  querystring: EventListQuerySchema,
  response: {
    200: Type.Ref(EventPageSchema, { description: 'A page of matching events' }),
    ...errorResponses({
      400: 'Unknown parameter, malformed value or invalid cursor',
      503: 'The query exceeded its time limit, or the database is unreachable'
    })
  }
}

/** Reads, always confined to the caller's tenant. */
const queryRoutes: FastifyPluginAsyncTypebox = async function queryRoutes (fastify) {
  async function listEvents (request: FastifyRequest<{ Querystring: EventListQuery }>) {
    return await fastify.eventPager.page(request.principal, request.query, request.disconnected)
  }

  fastify.get(
    '/events',
    { config: search, schema: { ...listSchema, operationId: 'listEvents', summary: 'Find events by field values and time range' } },
    listEvents
  )
  fastify.get(
    '/event',
    {
      config: search,
      schema: {
        ...listSchema,
        operationId: 'listEventsLegacy',
        summary: "Find events (the original system's path; use GET /events)",
        deprecated: true
      }
    },
    listEvents
  )

  fastify.get(
    '/events/export',
    {
      // the whole matching log, held while it streams: it counts as more than one read
      config: { ...reader, scan: SCAN_COSTS.export, audit: auditExportStart },
      schema: {
        operationId: 'exportEvents',
        tags: ['events'],
        summary: 'Stream every matching event as NDJSON or CSV',
        description:
          FILTERS_DESCRIPTION +
          ' The whole result is streamed in constant memory. CSV has one column per common field and ' +
          "event_specificdetails as JSON. CSV is for spreadsheets (cells starting with = + - @, tab or CR get a leading '); NDJSON is lossless.",
        querystring: EventExportQuerySchema,
        response: {
          200: {
            description: 'The matching events, one per line (NDJSON) or row (CSV)',
            content: {
              'application/x-ndjson': { schema: Type.String({ description: 'One Event JSON object per line' }) },
              'text/csv': { schema: Type.String({ description: 'Header row, then one row per event' }) }
            }
          },
          ...errorResponses({ 400: 'Unknown parameter or malformed value', 503: 'The database is unreachable' })
        }
      }
    },
    async function exportEvents (request, reply) {
      const { contentType, filename, body } = await fastify.eventPager.export(
        request.principal,
        request.query,
        request.log,
        (count, finished) => fastify.auditTrail.recordLater(request.principal, request, [exportFinished(request, count, finished)])
      )
      // the response schema documents the text the stream produces; Fastify sends streams as they are
      return await reply
        .header('content-type', contentType)
        .header('content-disposition', `attachment; filename="${filename}"`)
        .send(body as unknown as string)
    }
  )

  fastify.get(
    '/events/:id',
    {
      config: { ...reader, audit: auditEventRead },
      schema: {
        operationId: 'getEvent',
        tags: ['events'],
        summary: 'One event by id',
        description: "Another tenant's event is exactly as absent as a missing one (404).",
        params: EventIdParams,
        response: {
          200: Type.Ref(EventSchema, { description: 'The event' }),
          ...errorResponses({ 400: 'Malformed id', 404: 'No such event in your tenant' })
        }
      }
    },
    async function getEvent (request) {
      return await fastify.eventPager.get(request.principal, request.params.id, request.disconnected)
    }
  )
}

export default queryRoutes
