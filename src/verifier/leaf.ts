import { createHash, createHmac } from 'node:crypto'
import canonicalize from 'canonicalize'
import { hashLeaf } from './merkle.js'

/**
 * An event's leaf in its tenant's Merkle tree (docs/integrity.md, "The leaf format"). The leaf is the RFC 8785
 * canonical JSON of a leaf document: the fields that identify and order the event in clear, and every
 * field that can hold personal data as a salted commitment, so that erasing such a field later (its
 * value and salt deleted, its commitment kept) leaves the leaf, the tree and every proof valid.
 */

export const LEAF_VERSION = 1

/** In clear: the event's identity, position, type and provenance, never personal data. */
export const CLEAR_FIELDS = [
  'id',
  'seq',
  'tenant',
  'timestamp',
  'submitted_by',
  'event_type',
  'entitytype',
  'event_id',
  'occurred_at',
  // the version of its type's schema the event passed: absent on events checked against none, which hash as before
  'schema_version'
] as const
/** Committed: fields that can name or locate a person. Every value inside the details too, by path. */
export const COMMITTED_FIELDS = ['username', 'ip', 'location', 'description'] as const
export const DETAILS_FIELD = 'event_specificdetails'

/** The integrity fields of an event as the API returns it. */
export interface CommitmentMaterial {
  /** base64url of a 16-byte random seed: the salt of each committed path is derived from it. */
  salt?: string
  /** After an erasure the seed is gone: the salts of the paths still present, base64url, by path. */
  salts?: Record<string, string>
  /** The commitments of erased paths, hex, by path. */
  commitments?: Record<string, string>
  /** Paths whose value was erased; they read back as null. */
  erased?: string[]
}

export type EventForLeaf = Record<string, unknown> & CommitmentMaterial

export class LeafError extends Error {
  override name = 'LeafError'
}

/** RFC 8785 JSON Canonicalization Scheme. */
export function canonical (value: unknown): string {
  const text = canonicalize(value)
  if (text === undefined) throw new LeafError('value has no JSON form')
  return text
}

/** The salt of one path: HMAC-SHA256(seed, path), first 16 bytes; or given explicitly once the seed is gone. */
export function saltOf (event: CommitmentMaterial, path: string): Buffer {
  const explicit = event.salts?.[path]
  if (explicit !== undefined) return Buffer.from(explicit, 'base64url')
  if (event.salt === undefined) throw new LeafError(`no salt for ${path}`)
  return deriveSalt(Buffer.from(event.salt, 'base64url'), path)
}

export function deriveSalt (seed: Buffer, path: string): Buffer {
  return createHmac('sha256', seed).update(path).digest().subarray(0, 16)
}

/** c = SHA-256(salt || canonical(value)), hex. */
export function commitment (salt: Buffer, value: unknown): string {
  return createHash('sha256').update(salt).update(canonical(value)).digest('hex')
}

/**
 * Every committed path with its value: the four committed fields when present, and each value inside the
 * details that is not a non-empty object, at its dotted path (keys cannot contain a dot).
 */
export function committedValues (event: Record<string, unknown>): Array<[string, unknown]> {
  const values: Array<[string, unknown]> = []
  for (const field of COMMITTED_FIELDS) if (event[field] !== undefined) values.push([field, event[field]])
  if (event[DETAILS_FIELD] !== undefined) walk(event[DETAILS_FIELD], DETAILS_FIELD, values)
  return values
}

function walk (value: unknown, path: string, into: Array<[string, unknown]>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [key, inner] of Object.entries(value)) walk(inner, `${path}.${key}`, into)
  } else {
    into.push([path, value])
  }
}

/** The leaf document of an event: what its leaf hash covers. */
export function leafDocument (event: EventForLeaf): Record<string, unknown> {
  const doc: Record<string, unknown> = { v: LEAF_VERSION }
  for (const field of CLEAR_FIELDS) if (event[field] !== undefined) doc[field] = event[field]
  const erased = new Set(event.erased ?? [])
  const commitments: Record<string, string> = {}
  for (const [path, value] of committedValues(event)) {
    if (erased.has(path)) {
      const kept = event.commitments?.[path]
      if (kept === undefined) throw new LeafError(`${path} is erased but its commitment is missing`)
      // a value beside an erased path would be shown without anything vouching for it
      if (value !== null) throw new LeafError(`${path} is listed as erased but has a value`)
      commitments[path] = kept
    } else {
      commitments[path] = commitment(saltOf(event, path), value)
    }
  }
  for (const path of erased) {
    if (commitments[path] === undefined) throw new LeafError(`${path} is listed as erased but the event has no such field`)
  }
  doc.commitments = commitments
  return doc
}

/** The RFC 9162 leaf hash of an event, hex: SHA-256(0x00 || canonical(leaf document)). */
export function leafHash (event: EventForLeaf): string {
  return hashLeaf(Buffer.from(canonical(leafDocument(event)))).toString('hex')
}

/** The leaf of a seq the service recorded as a hole (no event): the same for every reason. */
export function holeLeafHash (tenant: string, seq: number): string {
  return hashLeaf(Buffer.from(canonical({ v: LEAF_VERSION, tenant, seq, hole: true }))).toString('hex')
}
