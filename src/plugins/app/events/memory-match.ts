import { candidatesOf, TEXT_FIELDS, type EventFilter } from './filter.js'
import type { TextSearch } from '../storage/text-search.js'
import type { StoredEvent } from './record.js'

/** The answer when MongoDB's rules for a path are subtle enough that only the database should decide. */
export const UNDECIDED = undefined

/**
 * Whether a stored event matches a filter, decided in memory exactly as `buildQuery`'s query would be by
 * MongoDB: for followers at the tail of the log, which then need no read of the database. Where MongoDB's
 * dotted-path rules get intricate (a numeric segment, which may index an array or name a key; an array
 * inside an array), it answers UNDECIDED and the caller asks the database instead, so an in-memory answer
 * is never a guess. The seq and tenant are the caller's (it reads one tenant's log by seq). Free text is
 * decided here only as a substring (`textSearch`); a text index's word and stem rules are the database's.
 */
export function matchesInMemory (filter: EventFilter, doc: StoredEvent, textSearch: TextSearch = 'substring'): boolean | typeof UNDECIDED {
  // the filterable fields are strings, null (erased) or absent (the event schema), never arrays
  const fieldOf = (field: string): unknown => (doc as unknown as Record<string, unknown>)[field]
  for (const [field, values] of Object.entries(filter.fields ?? {})) {
    if (values === undefined || values.length === 0) continue
    const value = fieldOf(field)
    if (typeof value !== 'string' || !values.includes(value)) return false
  }
  for (const [field, values] of Object.entries(filter.excluded ?? {})) {
    const value = fieldOf(field)
    // $nin keeps an event whose field is null or absent
    if (typeof value === 'string' && values?.includes(value) === true) return false
  }
  for (const [field, values] of Object.entries(filter.prefixes ?? {})) {
    const value = fieldOf(field)
    if (values === undefined || values.length === 0) continue
    if (typeof value !== 'string' || !values.some((prefix) => value.startsWith(prefix))) return false
  }
  for (const [field, values] of Object.entries(filter.excludedPrefixes ?? {})) {
    const value = fieldOf(field)
    if (typeof value === 'string' && values?.some((prefix) => value.startsWith(prefix)) === true) return false
  }
  if (filter.timeStart !== undefined && doc.timestamp < filter.timeStart) return false
  if (filter.timeEnd !== undefined && doc.timestamp >= filter.timeEnd) return false
  let answer: boolean | typeof UNDECIDED = true
  if (filter.text !== undefined) {
    const found = textSearch === 'substring' ? containsText(filter.text, TEXT_FIELDS.map(fieldOf)) : UNDECIDED
    if (found === UNDECIDED) answer = UNDECIDED
    else if (!found) return false
  }
  for (const { path, values } of filter.details ?? []) {
    const found = valuesAt(doc.event_specificdetails, path)
    if (found === UNDECIDED) answer = UNDECIDED
    else if (!equalsAny(found, candidatesOf(values))) return false
  }
  for (const { path, exists } of filter.detailsExists ?? []) {
    const found = valuesAt(doc.event_specificdetails, path)
    if (found === UNDECIDED) answer = UNDECIDED
    else if ((found.length > 0) !== exists) return false
  }
  return answer
}

/**
 * The values a dotted path reaches, by MongoDB's rules: through objects by key, and through an array by
 * looking the key up in each of its elements that is an object. UNDECIDED where a segment is numeric
 * (MongoDB also reads it as an array index) or an array holds an array on the way.
 */
function valuesAt (root: unknown, path: string[]): unknown[] | typeof UNDECIDED {
  let current: unknown[] = [root]
  for (const key of path) {
    if (/^\d+$/.test(key)) return UNDECIDED
    const next: unknown[] = []
    for (const value of current) {
      if (Array.isArray(value)) {
        for (const element of value) {
          if (Array.isArray(element)) return UNDECIDED
          if (isObject(element) && Object.hasOwn(element, key)) next.push(element[key])
        }
      } else if (isObject(value) && Object.hasOwn(value, key)) {
        next.push(value[key])
      }
    }
    current = next
  }
  return current
}

/** Equality with any candidate, an array matching when one of its elements does (one level, as MongoDB). */
function equalsAny (found: unknown[], candidates: Array<string | number>): boolean {
  return found.some((value) =>
    Array.isArray(value)
      ? value.some((element) => candidates.includes(element as string | number))
      : candidates.includes(value as string | number)
  )
}

/**
 * Whether one of the values holds the text, ignoring case, as the database's case-insensitive pattern does.
 * Folding ASCII letters is the same in every engine; beyond ASCII it is not (the Kelvin sign is a `k` to Go's
 * folding and not to PCRE's), so a miss where a non-ASCII character is involved is left UNDECIDED.
 */
function containsText (text: string, values: unknown[]): boolean | typeof UNDECIDED {
  const needle = asciiLower(text)
  let unsure = !isAscii(text)
  for (const value of values) {
    if (typeof value !== 'string') continue
    if (asciiLower(value).includes(needle)) return true
    if (!isAscii(value)) unsure = true
  }
  return unsure ? UNDECIDED : false
}

function asciiLower (text: string): string {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase())
}

function isAscii (text: string): boolean {
  return !/[^\p{ASCII}]/u.test(text)
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
