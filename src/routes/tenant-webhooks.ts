import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import {
  CreatedWebhookSchema,
  WebhookInputSchema,
  WebhookChangesSchema,
  WebhookIdParams,
  WebhookListSchema,
  WebhookSchema
} from '../schemas/webhook.js'
import { USER_BODY_LIMIT } from '../http/body-limits.js'

const DELIVERY =
  'Deliveries are POSTs of a JSON array of up to WEBHOOK_BATCH_MAX events (the Event schema), in seq order, at least once, with ' +
  'Audit-Webhook-Id (the delivery id: the same on every retry; drop what you already have), Audit-Webhook-Timestamp (Unix seconds) and ' +
  'Audit-Webhook-Signature (`v1,` + base64 HMAC-SHA256 under the secret of `<id>.<timestamp>.<body>`, as Standard Webhooks). A non-2xx, a ' +
  'redirect or no answer within WEBHOOK_TIMEOUT_MS is retried with exponential backoff and jitter; after WEBHOOK_MAX_FAILURES in a row the ' +
  'subscription is paused. Every change of a subscription is recorded as an event (audit.admin.webhook_created, _updated, _deleted).'

/** Webhook subscriptions of the admin's own tenant (plugins/app/webhooks/). */
const tenantWebhookRoutes: FastifyPluginAsyncTypebox = async function tenantWebhookRoutes (fastify) {
  const admin = { auth: { roles: ['admin' as const] } }
  const WebhookRef = (description: string) => Type.Ref(WebhookSchema, { description })

  fastify.post(
    '/tenant/webhooks',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: admin,
      schema: {
        operationId: 'createWebhook',
        tags: ['webhooks'],
        summary: "Subscribe a URL to your tenant's events",
        description:
          'The answer carries the secret that signs deliveries, this once. The URL must be https, and its host must not be or resolve to ' +
          'a private, loopback or link-local address, unless it is in WEBHOOK_ALLOW_HOSTS (checked again at every connection). A tenant has at ' +
          'most WEBHOOK_MAX_PER_TENANT subscriptions, active or paused. ' +
          DELIVERY,
        body: Type.Ref(WebhookInputSchema),
        response: {
          201: Type.Ref(CreatedWebhookSchema, { description: 'Created; store the secret now' }),
          ...errorResponses({
            400: 'Invalid body, or a URL refused (WEBHOOK_URL_REFUSED)',
            409: 'Your tenant already has WEBHOOK_MAX_PER_TENANT subscriptions (WEBHOOK_LIMIT); delete one first',
            413: 'Body over 8 KiB'
          })
        }
      }
    },
    async function createWebhook (request, reply) {
      return await reply.code(201).send(await fastify.webhooks.create(request, request.body))
    }
  )

  fastify.get('/tenant/webhooks', {
    config: admin,
    schema: {
      operationId: 'listWebhooks',
      tags: ['webhooks'],
      summary: 'List your tenant\'s webhook subscriptions',
      description: 'With each one\'s state, last delivered seq and last error; never the secrets.',
      response: { 200: Type.Ref(WebhookListSchema, { description: 'The subscriptions' }) }
    }
  }, async function listWebhooks (request) {
    return await fastify.webhooks.list(request)
  })

  fastify.get(
    '/tenant/webhooks/:id',
    {
      config: admin,
      schema: {
        operationId: 'getWebhook',
        tags: ['webhooks'],
        summary: 'One webhook subscription',
        description:
          "Its state (active or paused), the last seq delivered and the last error. Another tenant's is exactly as absent as a missing one (404).",
        params: WebhookIdParams,
        response: {
          200: WebhookRef('The subscription'),
          ...errorResponses({ 400: 'Malformed id', 404: 'No such subscription in your tenant' })
        }
      }
    },
    async function getWebhook (request) {
      return await fastify.webhooks.get(request, request.params.id)
    }
  )

  fastify.patch(
    '/tenant/webhooks/:id',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: admin,
      schema: {
        operationId: 'updateWebhook',
        tags: ['webhooks'],
        summary: 'Change, pause or resume a webhook subscription',
        description:
          '`state: "active"` resumes a paused subscription; `resume_after_seq` moves its position to any seq (earlier to deliver again, later to skip).',
        params: WebhookIdParams,
        body: Type.Ref(WebhookChangesSchema),
        response: {
          200: WebhookRef('The subscription as changed'),
          ...errorResponses({
            400: 'Invalid body, or a URL refused (WEBHOOK_URL_REFUSED)',
            404: 'No such subscription in your tenant',
            413: 'Body over 8 KiB'
          })
        }
      }
    },
    async function updateWebhook (request) {
      return await fastify.webhooks.update(request, request.params.id, request.body)
    }
  )

  fastify.delete(
    '/tenant/webhooks/:id',
    {
      config: admin,
      schema: {
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        summary: 'Delete a webhook subscription',
        description: 'Deliveries stop; its position is forgotten.',
        params: WebhookIdParams,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...errorResponses({ 400: 'Malformed id', 404: 'No such subscription in your tenant' })
        }
      }
    },
    async function deleteWebhook (request, reply) {
      await fastify.webhooks.delete(request, request.params.id)
      return await reply.code(204).send(null)
    }
  )
}

export default tenantWebhookRoutes
