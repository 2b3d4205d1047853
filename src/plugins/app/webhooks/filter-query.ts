import type { WebhookFilter } from '../../../schemas/webhook.js'

/** A subscription's filter in the query form the event filter is built from (`details.<path>` keys), as GET /events sends it. */
export function filterQuery (filter: WebhookFilter): Record<string, unknown> {
  const { details, ...fields } = filter
  const query: Record<string, unknown> = { ...fields }
  for (const [path, values] of Object.entries(details ?? {})) query[`details.${path}`] = values
  return query
}
