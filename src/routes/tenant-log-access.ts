import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { LogAccessInputSchema, LogAccessSchema } from '../schemas/integrity.js'
import { errorResponses } from '../schemas/common.js'
import { USER_BODY_LIMIT } from '../http/body-limits.js'
import { requestOrigin } from '../http/request-origin.js'

const admin = { auth: { roles: ['admin' as const] } }

/**
 * A tenant admin's choice of who may follow the log from outside (plugins/app/integrity/log-access.ts). Hash tiles
 * reveal no event and a checkpoint only the log's size; a monitor API key (role `monitor`) is the narrower way.
 */
const tenantLogAccessRoutes: FastifyPluginAsyncTypebox = async function tenantLogAccessRoutes (fastify) {
  async function answer (tenant: string) {
    const setting = await fastify.logAccess.setting(tenant)
    return {
      public: setting.public,
      origin: fastify.checkpoints.originOf(tenant),
      ...(setting.updated_at === undefined ? {} : { updated_at: setting.updated_at.toISOString(), updated_by: setting.updated_by })
    }
  }

  fastify.get('/tenant/log-access', {
    config: admin,
    schema: {
      operationId: 'getLogAccess',
      tags: ['integrity'],
      summary: "Who may read your log's checkpoints and hash tiles",
      response: { 200: Type.Ref(LogAccessSchema, { description: 'The setting' }) }
    }
  }, async function getLogAccess (request) {
    return await answer(request.principal.tenant)
  })

  fastify.put('/tenant/log-access', {
    config: admin,
    bodyLimit: USER_BODY_LIMIT,
    schema: {
      operationId: 'setLogAccess',
      tags: ['integrity'],
      summary: "Make your log's checkpoints and hash tiles public, or not",
      description:
        'Written to your log first (audit.admin.log_access_changed), whatever AUDIT_ACCESS says; every replica applies it within a second. ' +
        'Public: witnesses and monitors follow /logs/{tenant}/ without a credential. Otherwise: your readers, and API keys with the monitor role.',
      body: Type.Ref(LogAccessInputSchema),
      response: {
        200: Type.Ref(LogAccessSchema, { description: 'The setting now' }),
        ...errorResponses({ 400: 'Malformed body' })
      }
    }
  }, async function setLogAccess (request) {
    await fastify.logAccess.change(request.principal, requestOrigin(request), request.body.public)
    return await answer(request.principal.tenant)
  })
}

export default tenantLogAccessRoutes
