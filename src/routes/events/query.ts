import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { Readable } from 'node:stream'
import { errorResponses } from '../../schemas/common.js'
import { EventSchema } from '../../schemas/event.js'
import { EventExportQuerySchema, EventIdParams, EventListQuerySchema, EventPageSchema, FILTERS_DESCRIPTION, type EventListQuery } from '../../schemas/event-query.js'
import { toEventFilter } from '../../events/query-input.js'
import { CursorCodec, queryFingerprint } from '../../events/cursor.js'
import { toPublicEvent } from '../../events/mapping.js'
import { exportLines, EXPORT_FORMATS } from '../../events/export-format.js'
import { NotFoundError } from '../../errors.js'

export interface QueryRoutesOptions {
  /** Signs page cursors (a key is derived from it, never used as is). */
  cursorSecret: string
  /** Time limit for one export's whole cursor. */
  exportMaxTimeMS: number
}

const reader = { auth: { roles: ['reader' as const] } }

const listSchema = {
  tags: ['events'],
  description: FILTERS_DESCRIPTION + ' Pages are keyset-paginated on (timestamp, id): they never skip or repeat an event, even while new ones arrive.',
  querystring: EventListQuerySchema,
  response: {
    200: Type.Ref(EventPageSchema, { description: 'A page of matching events' }),
    ...errorResponses({ 400: 'Unknown parameter, malformed value or invalid cursor', 503: 'The query exceeded its time limit, or the database is unreachable' })
  }
}

/** Reads, always confined to the caller's tenant. */
const queryRoutes: FastifyPluginAsyncTypebox<QueryRoutesOptions> = async function queryRoutes (fastify, options) {
  const cursors = new CursorCodec(options.cursorSecret)

  async function listEvents (request: FastifyRequest<{ Querystring: EventListQuery }>) {
    const { limit, order, cursor, ...filters } = request.query
    const filter = toEventFilter(request.principal.tenant, filters)
    const queryKey = queryFingerprint([request.principal.tenant, order, filters])
    const after = cursor === undefined ? undefined : cursors.decode(cursor, queryKey)
    // one extra row tells whether another page exists without a count
    const docs = await fastify.eventStore.findPage(filter, { limit: limit + 1, order, after })
    const page = docs.slice(0, limit)
    const last = page[page.length - 1]
    return {
      items: page.map(toPublicEvent),
      next_cursor: docs.length > limit && last !== undefined ? cursors.encode({ timestamp: last.timestamp, id: last._id.toHexString() }, queryKey) : null
    }
  }

  fastify.get('/events', { config: reader, schema: { ...listSchema, operationId: 'listEvents', summary: 'Find events by field values and time range' } }, listEvents)
  fastify.get('/event', {
    config: reader,
    schema: { ...listSchema, operationId: 'listEventsLegacy', summary: 'Find events (the original system\'s path; use GET /events)', deprecated: true }
  }, listEvents)

  fastify.get('/events/export', {
    config: reader,
    schema: {
      operationId: 'exportEvents',
      tags: ['events'],
      summary: 'Stream every matching event as NDJSON or CSV',
      description: FILTERS_DESCRIPTION + ' The whole result is streamed in constant memory. CSV has one column per common field and ' +
        'event_specificdetails as JSON.',
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
  }, async function exportEvents (request, reply) {
    const { format, order, ...filters } = request.query
    const filter = toEventFilter(request.principal.tenant, filters)
    const cursor = fastify.eventStore.openCursor(filter, order, options.exportMaxTimeMS)
    // fail before the 200 if the database is down, rather than in the middle of the body
    const first = await cursor.hasNext().catch(async (err: unknown) => { await cursor.close(); throw err })
    const { contentType, extension } = EXPORT_FORMATS[format]
    const filename = `events-${new Date().toISOString().replace(/[:.]/g, '-')}.${extension}`
    reply.header('content-type', contentType)
    reply.header('content-disposition', `attachment; filename="${filename}"`)
    // a client that goes away destroys the stream, which closes the database cursor (see exportLines)
    const body = Readable.from(exportLines(first ? cursor : null, format, request.log), { objectMode: false })
    // the response schema documents the text the stream produces; Fastify sends streams as they are
    return await reply.send(body as unknown as string)
  })

  fastify.get('/events/:id', {
    config: reader,
    schema: {
      operationId: 'getEvent',
      tags: ['events'],
      summary: 'One event by id',
      description: 'Another tenant\'s event is exactly as absent as a missing one (404).',
      params: EventIdParams,
      response: { 200: Type.Ref(EventSchema, { description: 'The event' }), ...errorResponses({ 400: 'Malformed id', 404: 'No such event in your tenant' }) }
    }
  }, async function getEvent (request) {
    const doc = await fastify.eventStore.findById(request.principal.tenant, request.params.id)
    // another tenant's event is exactly as absent as a missing one
    if (doc === null) throw new NotFoundError('Event')
    return toPublicEvent(doc)
  })
}

export default queryRoutes
