import type { EventFilter } from '../events/filter.js'
import { toPublicEvent } from '../events/record.js'
import type { EventStore } from '../events/event-store.js'
import type { FollowedEvent } from './settled-tail.js'

export interface SeqRead {
  /** Matching events after the position, in seq order. Shared by every caller of the same read: never change them. */
  events: readonly FollowedEvent[]
  /** How far the read looked: a later read continues after it (past events the filters did not match). */
  reached: number
}

/**
 * Reads under way, by what they ask. Every follower of a tenant is woken by the same rise of its settled
 * mark, and those that ask the very same read at the same moment share one answer instead of each
 * sending its own: on FerretDB every read of the log is a scan of the collection. (Followers at the tail
 * read the replica's memory instead: settled-tail.ts.)
 */
const reading = new WeakMap<EventStore, Map<string, Promise<SeqRead>>>()

/**
 * Reads a tenant's log from the database forwards from `filter.afterSeq`, never past `filter.settledThrough`:
 * what `GET /events?afterSeq=N&order=asc` returns, with the filters of GET /events.
 */
export async function readStoredAfter (
  store: EventStore,
  filter: EventFilter & { afterSeq: number; settledThrough: number },
  limit: number
): Promise<SeqRead> {
  let reads = reading.get(store)
  if (reads === undefined) {
    reads = new Map()
    reading.set(store, reads)
  }
  // the filters are query parameters (strings, numbers, arrays of them): their JSON names the read exactly
  const key = JSON.stringify([filter, limit])
  const running = reads.get(key)
  if (running !== undefined) return await running
  const own = reads
  const read = readOnce(store, filter, limit).finally(() => own.delete(key))
  reads.set(key, read)
  return await read
}

async function readOnce (store: EventStore, filter: EventFilter & { settledThrough: number }, limit: number): Promise<SeqRead> {
  const docs = await store.findPage(filter, { limit, order: 'asc' })
  const last = docs[docs.length - 1]
  const events = docs.map((doc) => ({ seq: doc.seq, json: JSON.stringify(toPublicEvent(doc)) }))
  return { events, reached: docs.length < limit || last === undefined ? filter.settledThrough : last.seq }
}
