import { createHmac } from 'node:crypto'
import { ObjectId, type Filter } from 'mongodb'
import type { ErasureInput } from '../../../schemas/erasure.js'
import { canonical, committedValues, DETAILS_FIELD } from '../../../verifier/leaf.js'
import { toPublicEvent, type StoredEvent } from '../events/record.js'
import { ERASURE_APPLIED } from '../../../verifier/erasure.js'

/**
 * What an erasure request matches, and which paths of a matching event it erases. The value matched is
 * needed only while the request runs; what stays afterwards is the rule's kind and path and a keyed
 * fingerprint (the request id), from which nobody without the service's key can test a guess.
 */

export type MatchValue = string | number | boolean

/** The rule as stored: kind and path in clear, the value only until the request is done. */
export interface StoredRule {
  kind: 'username' | 'details' | 'event_ids'
  path?: string
  event_ids?: string[]
}

export function ruleOf (input: ErasureInput): { rule: StoredRule, value?: MatchValue } {
  const { match } = input
  if (match.username !== undefined) return { rule: { kind: 'username' }, value: match.username }
  if (match.details !== undefined) return { rule: { kind: 'details', path: match.details.path }, value: match.details.value }
  return { rule: { kind: 'event_ids', event_ids: [...(match.event_ids ?? [])].sort() } }
}

/**
 * The request id: a keyed fingerprint of everything that makes the request (tenant, rule and value, fields,
 * reason), so an identical request finds the first one by its `_id`, race-free on every replica, and the id
 * (kept after the value is gone, and shown in the audit trail) confirms no guessed value without the key.
 */
export function requestIdOf (key: Buffer, tenant: string, input: ErasureInput): string {
  const { rule, value } = ruleOf(input)
  const fields = input.fields === undefined ? null : [...input.fields].sort()
  return (
    'er_' +
    createHmac('sha256', key)
      .update(canonical({ tenant, rule, value: value ?? null, fields, reason: input.reason }))
      .digest('hex')
      .slice(0, 32)
  )
}

/** Paths where the service's own read records name what a reader searched for (audit/entries.ts, filterDetails). */
const FILTER_USERNAME = `${DETAILS_FIELD}.filter.username`
const FILTER_DETAILS = `${DETAILS_FIELD}.filter.details`

/**
 * The events of a request: by its rule, and the records of searches for the same value (an audit record of
 * `GET /events?username=alice` names alice in its details, so it is erased too, its filter only).
 */
export function matchFilter (rule: StoredRule, value: MatchValue | undefined): Filter<StoredEvent> {
  switch (rule.kind) {
    case 'username':
      return { $or: [{ username: value as string }, { [FILTER_USERNAME]: value }] } as Filter<StoredEvent>
    case 'details':
      // not $elemMatch, which FerretDB 1.24 takes only with operators: path and value may then come from two
      // filters of one search record, and pathsToErase, which checks them together, erases nothing there
      return {
        $or: [
          { [`${DETAILS_FIELD}.${rule.path as string}`]: value },
          { [`${FILTER_DETAILS}.path`]: rule.path, [`${FILTER_DETAILS}.values`]: String(value) }
        ]
      } as Filter<StoredEvent>
    case 'event_ids':
      return { _id: { $in: (rule.event_ids ?? []).map((id) => new ObjectId(id)) } }
  }
}

/** The committed paths of `event` this request erases (those not erased already), in the leaf's order. */
export function pathsToErase (rule: StoredRule, value: MatchValue | undefined, fields: string[] | null, doc: StoredEvent): string[] {
  const present = committedValues(toPublicEvent(doc) as unknown as Record<string, unknown>).map(([path]) => path)
  const already = new Set(doc.erased ?? [])
  const chosen = new Set<string>()
  if (matchesRule(rule, value, doc)) {
    for (const path of present) {
      if (fields === null || fields.some((field) => path === field || path.startsWith(`${field}.`))) chosen.add(path)
    }
  }
  // a record of a search for the value: its filter goes, the rest (who searched, when) stays
  if (rule.kind === 'username' && holds(at(doc, FILTER_USERNAME), value)) chosen.add(FILTER_USERNAME)
  if (rule.kind === 'details') {
    const filters = at(doc, FILTER_DETAILS)
    if (
      Array.isArray(filters) &&
      filters.some(
        (filter) => (filter as { path?: unknown }).path === rule.path && holds((filter as { values?: unknown }).values, String(value))
      )
    ) { chosen.add(FILTER_DETAILS) }
  }
  // details that are `{}` commit to the empty object at the bare path: nothing personal there to erase;
  // an erasure entry's details (seqs and paths, nothing personal) are what makes every erasure lawful
  const keepDetails = doc.event_type === ERASURE_APPLIED
  return present.filter(
    (path) => chosen.has(path) && !already.has(path) && path !== DETAILS_FIELD && !(keepDetails && path.startsWith(`${DETAILS_FIELD}.`))
  )
}

function matchesRule (rule: StoredRule, value: MatchValue | undefined, doc: StoredEvent): boolean {
  if (rule.kind === 'event_ids') return true
  if (rule.kind === 'username') return doc.username === value
  return holds(at(doc, `${DETAILS_FIELD}.${rule.path as string}`), value)
}

/** As the database compares: equal, or an array holding it. */
function holds (found: unknown, value: unknown): boolean {
  return found === value || (Array.isArray(found) && found.includes(value))
}

function at (doc: StoredEvent, path: string): unknown {
  let node: unknown = doc
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined
    node = (node as Record<string, unknown>)[key]
  }
  return node
}
