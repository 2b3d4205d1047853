import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../schemas/common.js'
import { FILTERS_DESCRIPTION } from '../../schemas/event-query.js'
import { HistogramQuerySchema, HistogramSchema } from '../../schemas/histogram.js'
import { auditHistogram } from '../../plugins/app/audit/entries.js'

/** The timeline of a search: what the viewer's chart draws. */
const histogramRoutes: FastifyPluginAsyncTypebox = async function histogramRoutes (fastify) {
  fastify.get(
    '/events/histogram',
    {
      config: { auth: { roles: ['reader'] }, scan: true, audit: auditHistogram },
      schema: {
        operationId: 'getEventHistogram',
        tags: ['events'],
        summary: 'Count matching events per interval over a time range',
        description:
          FILTERS_DESCRIPTION + ' timeStart and timeEnd are required; every bucket of the range is listed, empty ones with count 0.',
        querystring: HistogramQuerySchema,
        response: {
          200: Type.Ref(HistogramSchema, { description: 'Counts per bucket' }),
          ...errorResponses({
            400: 'Unknown parameter, malformed value, or too many buckets for the range',
            503: 'The count exceeded its time limit, or the database is unreachable'
          })
        }
      }
    },
    async function eventHistogram (request) {
      return await fastify.eventHistogram.count(request.principal.tenant, request.query, request.disconnected)
    }
  )
}

export default histogramRoutes
