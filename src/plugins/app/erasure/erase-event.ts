import {
  commitment,
  committedValues,
  COMMITTED_FIELDS,
  DETAILS_FIELD,
  leafHash,
  saltOf,
  type EventForLeaf
} from '../../../verifier/leaf.js'
import { toPublicEvent, type StoredEvent } from '../events/record.js'

/** The change that erases paths of a stored event: `$set` these, `$unset` the seed. */
export interface Erasure {
  set: Partial<StoredEvent>
  /** The leaf hash the erased form gives: the stored `hash`, unless the event was altered before (then it stays as wrong as it was). */
  leaf: string
}

/**
 * The erased form of an event (docs/integrity.md, "The leaf format"): each erased value null, its commitment kept,
 * and, since the seed would let anyone re-derive the erased salts, the salts of every remaining path
 * given explicitly instead. The leaf document is unchanged, so is the leaf hash, the tree and every proof.
 */
export function eraseEvent (doc: StoredEvent, paths: string[]): Erasure {
  const event = toPublicEvent(doc) as unknown as EventForLeaf
  const values = committedValues(event)
  const erasing = new Set(paths)
  const erased = [...(doc.erased ?? []), ...values.map(([path]) => path).filter((path) => erasing.has(path))]
  const gone = new Set(erased)
  const commitments: Record<string, string> = { ...event.commitments }
  const salts: Record<string, string> = {}
  for (const [path, value] of values) {
    if (erasing.has(path)) commitments[path] = commitment(saltOf(event, path), value)
    else if (!gone.has(path)) salts[path] = saltOf(event, path).toString('base64url')
  }
  const set: Partial<StoredEvent> = { erased, commitments: listed(commitments), salts: listed(salts) }
  for (const field of COMMITTED_FIELDS) if (erasing.has(field)) set[field] = null
  const detailPaths = paths.filter((path) => path.startsWith(`${DETAILS_FIELD}.`))
  if (detailPaths.length > 0 && doc.event_specificdetails !== undefined) {
    const details = structuredClone(doc.event_specificdetails)
    for (const path of detailPaths) setNull(details, path.slice(DETAILS_FIELD.length + 1).split('.'))
    set.event_specificdetails = details
  }
  const after: StoredEvent = { ...doc, ...set }
  delete after.salt
  return { set, leaf: leafHash(toPublicEvent(after) as unknown as Record<string, unknown>) }
}

function listed (byPath: Record<string, string>): Array<{ path: string, value: string }> {
  return Object.entries(byPath).map(([path, value]) => ({ path, value }))
}

function setNull (node: Record<string, unknown>, keys: string[]): void {
  const [key, ...rest] = keys as [string, ...string[]]
  if (rest.length === 0) {
    node[key] = null
    return
  }
  setNull(node[key] as Record<string, unknown>, rest)
}
