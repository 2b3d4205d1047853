import type { EventForLeaf } from './leaf.js'

/**
 * The event type under which the service records, before rewriting them, which paths of which events an
 * erasure batch erases: `details.erased` is a list of `{seq, paths}` (and `details.seqs` the same seqs, to
 * search by). An erased path is evidence of a lawful erasure only if such an entry, itself in the signed
 * tree and later than the event, names it: the leaf keeps a commitment either way, so without the entry
 * anyone who can write the database could null a field and call it erased.
 */
export const ERASURE_APPLIED = 'audit.admin.erasure_applied'

/** The erased paths of each seq, as the log's erasure entries record them; entries later than the event only. */
export function erasuresRecorded (events: Iterable<EventForLeaf>): Map<number, Array<{ path: string, entry: number }>> {
  const covered = new Map<number, Array<{ path: string, entry: number }>>()
  for (const event of events) {
    if (event.event_type !== ERASURE_APPLIED) continue
    const items = (event.event_specificdetails as { erased?: unknown } | undefined)?.erased
    if (!Array.isArray(items)) continue
    for (const item of items as Array<{ seq?: unknown, paths?: unknown }>) {
      if (typeof item?.seq !== 'number' || !Array.isArray(item.paths) || item.seq >= (event.seq as number)) continue
      const list = covered.get(item.seq) ?? []
      for (const path of item.paths) if (typeof path === 'string') list.push({ path, entry: event.seq as number })
      covered.set(item.seq, list)
    }
  }
  return covered
}

/** The first erased path (by seq) that no erasure entry of the log covers, or undefined when every one is. */
export function erasedWithoutRequest (events: Iterable<EventForLeaf>): { seq: number, path: string } | undefined {
  const all = [...events]
  const covered = erasuresRecorded(all)
  const erased = all.filter((event) => (event.erased?.length ?? 0) > 0).sort((a, b) => (a.seq as number) - (b.seq as number))
  for (const event of erased) {
    const seq = event.seq as number
    const paths = new Set((covered.get(seq) ?? []).map((item) => item.path))
    const path = event.erased?.find((candidate) => !paths.has(candidate))
    if (path !== undefined) return { seq, path }
  }
  return undefined
}
