import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { ApiKeyIdParams, ApiKeyInputSchema, ApiKeyListSchema, CreatedApiKeySchema } from '../schemas/api-key.js'
import { USER_BODY_LIMIT } from '../http/body-limits.js'

const USE =
  'A sending system (or a SIEM feeder) sends its key as `Authorization: Bearer <key>`, in place of a token from POST /login, which stays ' +
  'for people: a key does not expire unless given `expires_at`, and its requests are rate-limited per key (API_KEY_RATE_LIMIT_MAX), not ' +
  'by address. To rotate, create a second key for the client, switch it over, then revoke the first. Creating, revoking and expiring a key ' +
  'are entries in the tenant\'s log (audit.admin.api_key_created, _revoked, _expired).'

/** API keys of the admin's own tenant (plugins/app/access/api-keys.ts). */
const apiKeyRoutes: FastifyPluginAsyncTypebox = async function apiKeyRoutes (fastify) {
  const admin = { auth: { roles: ['admin' as const] } }

  fastify.post(
    '/tenant/api-keys',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: admin,
      schema: {
        operationId: 'createApiKey',
        tags: ['api-keys'],
        summary: 'Create an API key for a machine client',
        description:
          'The answer carries the key (`alk_<id>_<secret>`), this once: only a SHA-256 hash of it is stored. Its roles are writer and/or ' +
          `reader, never admin. A tenant holds at most API_KEY_MAX_PER_TENANT keys, expired ones included. ${USE}`,
        body: Type.Ref(ApiKeyInputSchema),
        response: {
          201: Type.Ref(CreatedApiKeySchema, { description: 'Created; store the key now' }),
          ...errorResponses({
            400: 'Invalid body, or an expiry not in the future',
            409: 'Your tenant already has API_KEY_MAX_PER_TENANT keys (API_KEY_LIMIT); revoke one first',
            413: 'Body over 8 KiB'
          })
        }
      }
    },
    async function createApiKey (request, reply) {
      return await reply.code(201).send(await fastify.apiKeys.create(request, request.body))
    }
  )

  fastify.get('/tenant/api-keys', {
    config: admin,
    schema: {
      operationId: 'listApiKeys',
      tags: ['api-keys'],
      summary: "List your tenant's API keys",
      description: 'With each one\'s roles, expiry and last use (to the minute); never a key or its hash.',
      response: { 200: Type.Ref(ApiKeyListSchema, { description: 'The keys' }) }
    }
  }, async function listApiKeys (request) {
    return await fastify.apiKeys.list(request)
  })

  fastify.delete(
    '/tenant/api-keys/:id',
    {
      config: admin,
      schema: {
        operationId: 'revokeApiKey',
        tags: ['api-keys'],
        summary: 'Revoke an API key',
        description:
          'Every replica refuses the key within AUTH_CACHE_MS, and ends the event streams it opened. Another tenant\'s key is exactly as ' +
          'absent as a missing one (404).',
        params: ApiKeyIdParams,
        response: {
          204: Type.Null({ description: 'Revoked' }),
          ...errorResponses({ 400: 'Malformed id', 404: 'No such key in your tenant' })
        }
      }
    },
    async function revokeApiKey (request, reply) {
      await fastify.apiKeys.revoke(request, request.params.id)
      return await reply.code(204).send(null)
    }
  )
}

export default apiKeyRoutes
