import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../schemas/common.js'
import { FILTERS_DESCRIPTION } from '../../schemas/event-query.js'
import { EventStreamHeadersSchema, EventStreamQuerySchema, STREAM_DESCRIPTION } from '../../schemas/event-stream.js'

/** The live feed of the caller's tenant (plugins/app/streaming/event-streams.ts). */
const streamRoutes: FastifyPluginAsyncTypebox = async function streamRoutes (fastify) {
  fastify.get(
    '/events/stream',
    {
      config: { auth: { roles: ['reader'] } },
      schema: {
        operationId: 'streamEvents',
        tags: ['events'],
        summary: 'Follow events live, resumable by seq (Server-Sent Events)',
        description: STREAM_DESCRIPTION + ' ' + FILTERS_DESCRIPTION,
        querystring: EventStreamQuerySchema,
        headers: EventStreamHeadersSchema,
        response: {
          200: {
            description: 'An endless stream of SSE messages, one per event',
            content: {
              'text/event-stream': {
                schema: Type.String({
                  description:
                    'id: <seq>\\ndata: <Event JSON>\\n\\n, repeated; `: heartbeat` comments; a final `event: end` with the seq to resume after'
                })
              }
            }
          },
          ...errorResponses({
            400: 'Unknown parameter or malformed value',
            503: 'Too many streams for your tenant or on this instance, or the database is unreachable'
          })
        }
      }
    },
    async function streamEvents (request, reply) {
      const { afterSeq, ...filters } = request.query
      const lastEventId = request.headers['last-event-id']
      await fastify.eventStreams.open(request, reply, filters, lastEventId !== undefined ? Number(lastEventId) : afterSeq)
    }
  )
}

export default streamRoutes
