import type { FastifyInstance } from 'fastify'
import type { Principal } from '../access/authorization.js'

export type WebhookAction = 'created' | 'updated' | 'deleted'

/**
 * Every subscription change is an audited event of the admin's tenant, written through the one write
 * path like any other event (`audit.admin.webhook_<action>`). Kept to this one function so that it can
 * follow the audit events of admin actions when those get a shared form.
 */
export async function auditWebhookChange (
  fastify: FastifyInstance,
  principal: Principal,
  ip: string,
  action: WebhookAction,
  id: string,
  details: Record<string, unknown>
): Promise<void> {
  const [outcome] = await fastify.eventWriter.write(principal, [
    {
      event_type: `audit.admin.webhook_${action}`,
      username: principal.username,
      entitytype: 'webhook_subscription',
      ip,
      location: 'api',
      description: `Webhook subscription ${id} ${action} by ${principal.username}`,
      event_specificdetails: { webhook_id: id, ...details }
    }
  ])
  if (outcome?.status === 'error') throw new Error(`the audit event of a webhook change was not written: ${outcome.error}`)
}
