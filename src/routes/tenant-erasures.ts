import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { ErasureIdParams, ErasureInputSchema, ErasureListQuery, ErasureListSchema, ErasureRequestSchema } from '../schemas/erasure.js'
import { auditErasureRead } from '../plugins/app/erasure/erasure-audit.js'
import { EVENT_BODY_LIMIT } from '../http/body-limits.js'

const WHAT_STAYS =
  'Each matching event keeps its place, its leaf hash and every proof: the erased values read back as null and are named in ' +
  '`erased`, with their commitments (docs/erasure.md). The request itself is recorded as `audit.admin.erasure_requested` and, when done, ' +
  '`audit.admin.erasure_completed`: who asked, why, the rule and the count, never the value.'

/** Data-subject erasure requests of the admin's own tenant (plugins/app/erasure/). */
const tenantErasureRoutes: FastifyPluginAsyncTypebox = async function tenantErasureRoutes (fastify) {
  const admin = { roles: ['admin' as const] }
  const RequestRef = (description: string) => Type.Ref(ErasureRequestSchema, { description })

  fastify.post(
    '/tenant/erasures',
    {
      // up to 1000 event ids (about 27 KiB) fit; a user body's 8 KiB would not
      bodyLimit: EVENT_BODY_LIMIT,
      config: { auth: admin },
      schema: {
        operationId: 'requestErasure',
        tags: ['tenant'],
        summary: "Erase a data subject's personal data from your tenant's events",
        description:
          'Matches by `username`, a details path and value, or event ids, and erases the given fields (every erasable one by default) of ' +
          'the events stored when the request starts, in the background in bounded batches; follow it with GET /tenant/erasures/{id}. A legal hold ' +
          'wins: under one the request waits (`waiting_for_legal_hold`). An identical request (same match, fields and reason) is the same request: ' +
          'it is answered 200 with the first one as it stands, and changes nothing. ' +
          WHAT_STAYS,
        body: Type.Ref(ErasureInputSchema),
        response: {
          202: RequestRef('Accepted: the erasure runs in the background'),
          200: RequestRef('An identical request was made before: this is it'),
          ...errorResponses({
            400: 'Invalid body: exactly one of match.username, match.details, match.event_ids; fields among the erasable ones',
            413: 'Body over 48 KiB'
          })
        }
      }
    },
    async function requestErasure (request, reply) {
      const { created, view } = await fastify.erasures.submit(request, request.body)
      return await reply
        .code(created ? 202 : 200)
        .header('location', `/tenant/erasures/${view.id}`)
        .send(view)
    }
  )

  fastify.get('/tenant/erasures', {
    config: { auth: admin, audit: auditErasureRead },
    schema: {
      operationId: 'listErasures',
      tags: ['tenant'],
      summary: 'Your tenant\'s erasure requests, newest first',
      description: 'Each with its state and progress; never the value matched.',
      querystring: ErasureListQuery,
      response: { 200: Type.Ref(ErasureListSchema, { description: 'The requests' }), ...errorResponses({ 400: 'Invalid limit' }) }
    }
  }, async function listErasures (request) {
    return await fastify.erasures.list(request.principal.tenant, request.query.limit ?? 50)
  })

  fastify.get(
    '/tenant/erasures/:id',
    {
      config: { auth: admin, audit: auditErasureRead },
      schema: {
        operationId: 'getErasure',
        tags: ['tenant'],
        summary: 'One erasure request and its progress',
        description:
          "State (`running`, `waiting_for_legal_hold`, `done`), how many events matched, were erased and remain. Another tenant's " +
          'request is exactly as absent as a missing one (404).',
        params: ErasureIdParams,
        response: { 200: RequestRef('The request'), ...errorResponses({ 400: 'Malformed id', 404: 'No such request in your tenant' }) }
      }
    },
    async function getErasure (request) {
      return await fastify.erasures.get(request.principal.tenant, request.params.id)
    }
  )
}

export default tenantErasureRoutes
