import { toEventFilter } from '../events/filter.js'
import type { StoredEvent } from '../events/record.js'
import type { EventStore } from '../events/store.js'

export interface SeqRead {
  /** Matching events after the position, in seq order. Shared by every caller of the same read: never change them. */
  events: readonly StoredEvent[]
  /** How far the read looked: a later read continues after it (past events the filters did not match). */
  reached: number
}

/**
 * Reads under way, by what they ask. Every follower of a tenant is woken by the same rise of its settled
 * mark, and those that kept up ask the very same read at the same moment: they share one answer instead
 * of each sending its own. On FerretDB every read of the log is a scan of the collection, so five streams
 * and two webhooks at the tail cost two reads per rise (one per page size), not seven.
 */
const reading = new WeakMap<EventStore, Map<string, Promise<SeqRead>>>()

/**
 * Reads a tenant's log forwards from a position, with the filters of GET /events, never past the settled
 * mark it is given: what streams and webhooks deliver is what `GET /events?afterSeq=N&order=asc` returns.
 */
export async function readAfter (store: EventStore, tenant: string, filters: Record<string, unknown>, position: number, settledThrough: number, limit: number): Promise<SeqRead> {
  if (settledThrough <= position) return { events: [], reached: position }
  let reads = reading.get(store)
  if (reads === undefined) {
    reads = new Map()
    reading.set(store, reads)
  }
  // the filters are query parameters (strings, numbers, arrays of them): their JSON names the read exactly
  const key = JSON.stringify([tenant, filters, position, settledThrough, limit])
  const running = reads.get(key)
  if (running !== undefined) return await running
  const own = reads
  const read = readOnce(store, tenant, filters, position, settledThrough, limit).finally(() => own.delete(key))
  reads.set(key, read)
  return await read
}

async function readOnce (store: EventStore, tenant: string, filters: Record<string, unknown>, position: number, settledThrough: number, limit: number): Promise<SeqRead> {
  const filter = toEventFilter(tenant, { ...filters, afterSeq: position })
  filter.settledThrough = settledThrough
  const events = await store.findPage(filter, { limit, order: 'asc' })
  const last = events[events.length - 1]
  return { events, reached: events.length < limit || last === undefined ? settledThrough : last.seq }
}
