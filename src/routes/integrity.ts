import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { CompletenessQuerySchema, CompletenessSchema } from '../schemas/integrity.js'
import { auditCompleteness } from '../plugins/app/audit/entries.js'

const reader = { auth: { roles: ['reader' as const] }, scan: true }

/** What the caller's tenant log can prove about itself. */
const integrityRoutes: FastifyPluginAsyncTypebox = async function integrityRoutes (fastify) {
  fastify.get('/integrity/completeness', {
    config: { ...reader, audit: auditCompleteness },
    schema: {
      tags: ['integrity'],
      operationId: 'getCompleteness',
      summary: 'Is anything missing from your tenant\'s log?',
      description: 'Checks every seq from 1 to the settled mark against the stored events: each is an event or a hole the service ' +
        'recorded with its reason. A missing seq with no recorded reason is reported as `unexplained` and makes `complete` false: ' +
        'an event was removed outside the service. With timeStart/timeEnd, also says which seqs that receipt-time range covers. ' +
        'Reads every seq of the tenant: on the embedded FerretDB a scan of the events.',
      querystring: CompletenessQuerySchema,
      response: {
        200: Type.Ref(CompletenessSchema, { description: 'The completeness report' }),
        ...errorResponses({ 400: 'Unknown parameter or malformed value', 503: 'The check exceeded its time limit, or the database is unreachable' })
      }
    }
  }, async function completeness (request) {
    return await fastify.completeness.report(request.principal.tenant, request.query, request.disconnected)
  })
}

export default integrityRoutes
