import type { AuditEntry } from '../audit/audit-trail.js'

export type WebhookAction = 'created' | 'updated' | 'deleted'

/**
 * The entry of a subscription change (`audit.admin.webhook_<action>`), written through the one write path
 * before the change applies, like every other admin change.
 */
export function webhookChanged (by: string, action: WebhookAction, id: string, details: Record<string, unknown>): AuditEntry {
  return {
    event_type: `audit.admin.webhook_${action}`,
    entitytype: 'webhook_subscription',
    description: `Webhook subscription ${id} ${action} by ${by}`,
    details: { webhook_id: id, ...details }
  }
}
