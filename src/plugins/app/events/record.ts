import { createHash, randomBytes } from 'node:crypto'
import { ObjectId } from 'mongodb'
import { COMMON_FIELDS, ERASABLE_FIELDS, type CommonFields, type Event, type EventInput } from '../../../schemas/event.js'
import type { Principal } from '../access/authorization.js'
import { leafHash } from '../../../verifier/leaf.js'

export interface PathValue { path: string, value: string }

/** The six fields as stored: the personal ones are null once erased. */
export type StoredCommonFields = Omit<CommonFields, (typeof ERASABLE_FIELDS)[number]> & {
  [K in (typeof ERASABLE_FIELDS)[number]]: CommonFields[K] | null
}

/** An event as stored. `idem_key` backs idempotency and never leaves the database. */
export interface StoredEvent extends StoredCommonFields {
  _id: ObjectId
  tenant: string
  /** Position in the tenant's log, 1, 2, 3…: assigned by the write path when the event is written. */
  seq: number
  idem_key: string
  timestamp: Date
  submitted_by: string
  event_specificdetails?: Record<string, unknown>
  event_id?: string
  occurred_at?: Date
  /** The version of its type's schema the details passed at ingest (plugins/app/event-types/); absent: none was checked. */
  schema_version?: number
  /** base64url seed of the salts of the committed fields (docs/integrity.md, "The leaf format"). */
  salt?: string
  /** The event's leaf hash, hex: set with its seq, so the receipt, reads and proofs all give the same one. */
  hash?: string
  /**
   * What an erasure leaves (plugins/app/erasure/): the erased paths, their commitments, and the salts of the
   * rest (the seed is then gone). As `{path, value}` lists: a stored key cannot hold the paths' dots, and
   * FerretDB 1.24 stores no array directly inside an array.
   */
  erased?: string[]
  commitments?: PathValue[]
  salts?: PathValue[]
}

/** The idempotency key: the client's event_id when given, the event's own id otherwise, so events without one never collide. */
export function idempotencyKey (input: Pick<EventInput, 'event_id'>, id: ObjectId): string {
  // prefixes keep a client's event_id from ever equalling an auto key
  return input.event_id !== undefined ? `e:${input.event_id}` : `i:${id.toHexString()}`
}

/**
 * The id of the event a tenant submitted under this event_id, known without a lookup: the database's
 * unique `_id` then refuses a repeat by itself, and a duplicate is answered with the first event's id.
 */
export function idForEventId (tenant: string, eventId: string): ObjectId {
  return new ObjectId(createHash('sha256').update(tenant).update('\0').update(eventId).digest().subarray(0, 12))
}

/**
 * The stored form of a submitted event. Server fields come from the token and the clock, never from the
 * body (the schema refuses them there anyway). `schemaVersion` is the version of its type's schema the event passed.
 */
export function toStoredEvent (
  input: EventInput,
  principal: Pick<Principal, 'tenant' | 'username'>,
  receivedAt: Date,
  schemaVersion?: number
): StoredEvent {
  const _id = input.event_id === undefined ? new ObjectId() : idForEventId(principal.tenant, input.event_id)
  const doc = {
    _id,
    tenant: principal.tenant,
    seq: 0,
    idem_key: idempotencyKey(input, _id),
    timestamp: receivedAt,
    submitted_by: principal.username,
    ...pickCommonFields(input)
  } as StoredEvent
  if (input.event_specificdetails !== undefined) doc.event_specificdetails = input.event_specificdetails
  if (input.event_id !== undefined) doc.event_id = input.event_id
  if (input.occurred_at !== undefined) doc.occurred_at = new Date(input.occurred_at)
  if (schemaVersion !== undefined) doc.schema_version = schemaVersion
  return doc
}

/** The public form: `id` instead of `_id`, ISO dates, nothing internal. */
export function toPublicEvent (doc: StoredEvent): Event {
  const event = {
    id: doc._id.toHexString(),
    seq: doc.seq,
    timestamp: doc.timestamp.toISOString(),
    tenant: doc.tenant,
    submitted_by: doc.submitted_by,
    ...pickCommonFields(doc)
  } as Event
  if (doc.event_specificdetails !== undefined) event.event_specificdetails = doc.event_specificdetails
  if (doc.event_id !== undefined) event.event_id = doc.event_id
  if (doc.occurred_at !== undefined) event.occurred_at = doc.occurred_at.toISOString()
  if (doc.schema_version !== undefined) event.schema_version = doc.schema_version
  if (doc.hash !== undefined) event.hash = doc.hash
  if (doc.salt !== undefined) event.salt = doc.salt
  if (doc.erased !== undefined) Object.assign(event, { erased: doc.erased, commitments: byPath(doc.commitments), salts: byPath(doc.salts) })
  return event
}

function byPath (list: PathValue[] = []): Record<string, string> {
  return Object.fromEntries(list.map(({ path, value }) => [path, value]))
}

/** Stamps the event with its position and the leaf hash that position gives it, computed from its public form. */
export function placeInLog (doc: StoredEvent, seq: number): void {
  doc.seq = seq
  doc.salt ??= randomBytes(16).toString('base64url')
  doc.hash = leafHash(toPublicEvent(doc))
}

/**
 * Why an event cannot be hashed and stored as it is, or undefined when it can. Its leaf hash needs the RFC 8785
 * canonical form of its public form, which has none for Infinity, NaN, a lone surrogate, a BigInt or a cycle.
 * Validation refuses these at the door; the write path checks again before an event takes a seq or a place in
 * a bulk insert shared with others, so that an event that slipped past (an internal caller, a future route)
 * fails alone. The answer names the path after the event's root, as `/event_specificdetails/amount must be a
 * finite number` (a caller puts `body` or its item's path in front), or is ` has no …` for the whole event.
 */
export function unstorableReason (doc: StoredEvent): string | undefined {
  let event: Event
  try {
    event = toPublicEvent(doc)
  } catch {
    return ' has a field with no stored form (an invalid date)'
  }
  try {
    return firstUnhashable(event, '', new Set())
  } catch {
    // nested past the call stack: nothing validation lets through, and nothing to hash either
    return ' is nested too deeply'
  }
}

/**
 * The first value of the event that has no canonical JSON form, or none the leaf can commit to (undefined, a
 * function: dropped from the JSON, they would make what is hashed differ from what is stored), as `path problem`.
 */
function firstUnhashable (value: unknown, path: string, open: Set<unknown>): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} must be a finite number`
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? `${path} has a lone UTF-16 surrogate` : undefined
  if (typeof value === 'bigint') return `${path} must be a number, not a BigInt`
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return `${path} has no JSON value`
  if (value === null || typeof value !== 'object') return undefined
  if (open.has(value)) return `${path} refers to itself`
  open.add(value)
  for (const [key, inner] of Object.entries(value)) {
    // a field of the event left out is simply absent from the leaf
    if (path === '' && inner === undefined) continue
    if (LONE_SURROGATE.test(key)) return `${path} has a key with a lone UTF-16 surrogate`
    const problem = firstUnhashable(inner, `${path}/${key}`, open)
    if (problem !== undefined) return problem
  }
  open.delete(value)
  return undefined
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Items grouped by their tenant, in input order within each: every write and migration works per tenant. */
export function groupByTenant<T> (items: T[], tenantOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const tenant = tenantOf(item)
    const group = groups.get(tenant)
    if (group === undefined) groups.set(tenant, [item])
    else group.push(item)
  }
  return groups
}

/**
 * What the client sent, as one short digest (keys sorted, dates as ISO text): a repeat of an event_id
 * with a different digest is a conflict, answered as such rather than silently merged.
 */
export function contentFingerprint (doc: StoredEvent): string {
  const content = {
    ...pickCommonFields(doc),
    details: doc.event_specificdetails,
    event_id: doc.event_id,
    occurred_at: doc.occurred_at?.toISOString()
  }
  return createHash('sha256').update(JSON.stringify(content, sortedKeys)).digest('base64url')
}

/** A JSON.stringify replacer: objects with their keys in order, so equal content serializes equally. */
export function sortedKeys (_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

function pickCommonFields (source: StoredCommonFields): StoredCommonFields {
  return Object.fromEntries(COMMON_FIELDS.map((field) => [field, source[field]])) as unknown as StoredCommonFields
}
