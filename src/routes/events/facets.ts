import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../../schemas/common.js'
import { FILTERS_DESCRIPTION } from '../../schemas/event-query.js'
import { FacetQuerySchema, FacetsSchema, MAX_FACET_VALUES } from '../../schemas/facets.js'
import { auditFacets } from '../../plugins/app/audit/entries.js'

/** Top values of a field in a search: what the viewer offers to filter by, or exclude, next. */
const facetRoutes: FastifyPluginAsyncTypebox = async function facetRoutes (fastify) {
  fastify.get(
    '/events/facets',
    {
      // one admitted read, like a page: on FerretDB it is one scan of the matches
      config: { auth: { roles: ['reader'] }, scan: true, audit: auditFacets },
      schema: {
        operationId: 'getEventFacets',
        tags: ['events'],
        summary: 'The most frequent values of a field among matching events',
        description:
          FILTERS_DESCRIPTION + ` At most ${MAX_FACET_VALUES} values, most frequent first; events without the field (or whose field was erased) are not counted.`,
        querystring: FacetQuerySchema,
        response: {
          200: { ...FacetsSchema, description: 'The top values' },
          ...errorResponses({ 400: 'Unknown parameter or malformed value', 503: 'The count exceeded its time limit, or the database is unreachable' })
        }
      }
    },
    async function eventFacets (request) {
      return await fastify.eventFacets.top(request.principal.tenant, request.query, request.disconnected)
    }
  )
}

export default facetRoutes
