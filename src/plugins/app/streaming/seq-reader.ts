import { toEventFilter } from '../events/filter.js'
import type { StoredEvent } from '../events/record.js'
import type { EventStore } from '../events/store.js'

export interface SeqRead {
  /** Matching events after the position, in seq order. */
  events: StoredEvent[]
  /** How far the read looked: a later read continues after it (past events the filters did not match). */
  reached: number
}

/**
 * Reads a tenant's log forwards from a position, with the filters of GET /events, never past the settled
 * mark it is given: what streams and webhooks deliver is what `GET /events?afterSeq=N&order=asc` returns.
 */
export async function readAfter (store: EventStore, tenant: string, filters: Record<string, unknown>, position: number, settledThrough: number, limit: number): Promise<SeqRead> {
  if (settledThrough <= position) return { events: [], reached: position }
  const filter = toEventFilter(tenant, { ...filters, afterSeq: position })
  filter.settledThrough = settledThrough
  const events = await store.findPage(filter, { limit, order: 'asc' })
  const last = events[events.length - 1]
  return { events, reached: events.length < limit || last === undefined ? settledThrough : last.seq }
}
