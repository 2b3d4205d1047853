import { ObjectId, type Document, type Filter } from 'mongodb'
import { BadRequestError } from '../../../errors.js'
import { FieldFilterProperties } from '../../../schemas/event-query.js'
import type { StoredEvent } from './record.js'
import type { TextSearch } from '../storage/text-search.js'

/** The exact-match filters, taken from the query schema so that a new filter is declared once. */
export const FILTER_FIELDS = Object.keys(FieldFilterProperties) as Array<keyof typeof FieldFilterProperties>
export type FilterField = typeof FILTER_FIELDS[number]

/** A filter built from validated, typed query input: the only way routes can ask for events. */
export interface EventFilter {
  tenant: string
  fields?: Partial<Record<FilterField, string[]>>
  /** Values a field must not have (an event without the field is kept, as MongoDB's $nin keeps it). */
  excluded?: Partial<Record<FilterField, string[]>>
  /** Prefixes of which a field must start with one (case-sensitive; an event without the field has none). */
  prefixes?: Partial<Record<FilterField, string[]>>
  /** Prefixes none of which a field may start with (an event without the field is kept). */
  excludedPrefixes?: Partial<Record<FilterField, string[]>>
  /** Free text (`q`), over TEXT_FIELDS: how it matches is the database's (TextSearch). */
  text?: string
  /** Equality on a path inside event_specificdetails (any of the values); a numeric-looking value also matches the number. */
  details?: Array<{ path: string[], values: string[] }>
  detailsExists?: Array<{ path: string[], exists: boolean }>
  timeStart?: Date
  timeEnd?: Date
  /** Read by sequence: seq > afterSeq and seq <= settledThrough, ordered by seq. */
  afterSeq?: number
  settledThrough?: number
}

/** Each list a field can be filtered by, and the suffix of its query parameter (`event_type_not_prefix`, …). */
const FIELD_FILTER_KINDS = [['fields', ''], ['excluded', '_not'], ['prefixes', '_prefix'], ['excludedPrefixes', '_not_prefix']] as const

/** The fields `q` searches: the event's text, not its addresses or ids. */
export const TEXT_FIELDS = ['description', 'event_type', 'username', 'entitytype', 'location'] as const

/** Where a page continues: after an event in (timestamp, _id) order, or after a seq in seq order. */
export type PagePosition = { timestamp: Date, id: string } | { seq: number }

export interface PageRequest {
  limit: number
  order: 'asc' | 'desc'
  /** Keyset position: return events strictly after this one in the requested order. */
  after?: PagePosition
}

/** The sort a filter reads in: seq order for reads by sequence, else receipt time with _id breaking ties. */
export function sortOf (filter: EventFilter, order: 'asc' | 'desc'): Record<string, 1 | -1> {
  const direction = order === 'asc' ? 1 : -1
  return filter.afterSeq !== undefined ? { seq: direction } : { timestamp: direction, _id: direction }
}

/**
 * Turns a validated query string into a typed EventFilter. Only the schema's own names get here
 * (unknown parameters were refused with 400), and every value is a plain string, so nothing a client
 * sends can become a query operator.
 */
export function toEventFilter (tenant: string, query: Record<string, unknown>): EventFilter {
  const filter: EventFilter = { tenant, fields: {}, details: [], detailsExists: [] }
  for (const field of FILTER_FIELDS) {
    for (const [kind, suffix] of FIELD_FILTER_KINDS) {
      const values = query[`${field}${suffix}`]
      if (Array.isArray(values) && values.length > 0) (filter[kind] ??= {})[field] = values as string[]
    }
  }
  if (typeof query.q === 'string') {
    const text = query.q.trim()
    if (text === '') throw new BadRequestError('q must hold some text besides spaces')
    filter.text = text
  }
  for (const [name, value] of Object.entries(query)) {
    if (!name.startsWith('details.')) continue
    if (name.endsWith(':exists')) {
      filter.detailsExists?.push({ path: name.slice('details.'.length, -':exists'.length).split('.'), exists: value as boolean })
    } else {
      filter.details?.push({ path: name.slice('details.'.length).split('.'), values: value as string[] })
    }
  }
  if (typeof query.timeStart === 'string') filter.timeStart = new Date(query.timeStart)
  if (typeof query.timeEnd === 'string') filter.timeEnd = new Date(query.timeEnd)
  if (typeof query.afterSeq === 'number') filter.afterSeq = query.afterSeq
  if (filter.timeStart !== undefined && filter.timeEnd !== undefined && filter.timeStart > filter.timeEnd) {
    throw new BadRequestError('timeStart must not be after timeEnd')
  }
  return filter
}

/**
 * Translates a typed filter into a MongoDB query. Every value here is a validated string or Date; text that
 * goes into a pattern is escaped first, so it only ever matches itself.
 */
export function buildQuery (filter: EventFilter, page?: PageRequest, textSearch: TextSearch = 'substring'): Filter<StoredEvent> {
  const clauses: Document[] = []
  for (const [field, values] of Object.entries(filter.fields ?? {})) {
    if (values === undefined || values.length === 0) continue
    clauses.push({ [field]: values.length === 1 ? values[0] : { $in: values } })
  }
  for (const [field, values] of Object.entries(filter.excluded ?? {})) {
    if (values === undefined || values.length === 0) continue
    clauses.push({ [field]: values.length === 1 ? { $ne: values[0] } : { $nin: values } })
  }
  for (const [field, values] of Object.entries(filter.prefixes ?? {})) {
    if (values === undefined || values.length === 0) continue
    // anchored and case-sensitive: the form MongoDB answers from an index on the field
    const each = values.map((value) => ({ [field]: { $regex: `^${escapeRegExp(value)}` } }))
    clauses.push(each.length === 1 ? each[0] as Document : { $or: each })
  }
  for (const [field, values] of Object.entries(filter.excludedPrefixes ?? {})) {
    if (values === undefined || values.length === 0) continue
    // a pattern never matches a null or absent field, so $nor keeps those events, as $nin does
    clauses.push({ $nor: values.map((value) => ({ [field]: { $regex: `^${escapeRegExp(value)}` } })) })
  }
  let text: Document | undefined
  if (filter.text !== undefined) {
    if (textSearch === 'index') {
      // MongoDB takes $text at the top level only, next to the tenant its compound text index starts with
      text = { $text: { $search: filter.text } }
    } else {
      const pattern = escapeRegExp(filter.text)
      clauses.push({ $or: TEXT_FIELDS.map((field) => ({ [field]: { $regex: pattern, $options: 'i' } })) })
    }
  }
  for (const { path, values } of filter.details ?? []) {
    const candidates = candidatesOf(values)
    clauses.push({ [detailsPath(path)]: candidates.length === 1 ? candidates[0] : { $in: candidates } })
  }
  for (const { path, exists } of filter.detailsExists ?? []) {
    clauses.push({ [detailsPath(path)]: { $exists: exists } })
  }
  if (filter.timeStart !== undefined || filter.timeEnd !== undefined) {
    const range: Document = {}
    if (filter.timeStart !== undefined) range.$gte = filter.timeStart
    if (filter.timeEnd !== undefined) range.$lt = filter.timeEnd
    clauses.push({ timestamp: range })
  }
  if (filter.afterSeq !== undefined) clauses.push({ seq: { $gt: filter.afterSeq, $lte: filter.settledThrough ?? filter.afterSeq } })
  if (page?.after !== undefined) {
    const op = page.order === 'asc' ? '$gt' : '$lt'
    if ('seq' in page.after) {
      clauses.push({ seq: { [op]: page.after.seq } })
    } else {
      const { timestamp, id } = page.after
      clauses.push({ $or: [{ timestamp: { [op]: timestamp } }, { timestamp, _id: { [op]: new ObjectId(id) } }] })
    }
  }
  return { tenant: filter.tenant, ...text, ...(clauses.length === 0 ? {} : { $and: clauses }) } as Filter<StoredEvent>
}

/** Text as a pattern that matches exactly it: every character a regular expression gives a meaning to is escaped. */
export function escapeRegExp (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

/** What a details filter's values match: each string, and the number it reads as, if it does. */
export function candidatesOf (values: string[]): Array<string | number> {
  const candidates: Array<string | number> = [...values]
  for (const value of values) {
    // JSON's number syntax only: Number() would also read '0x10', ' 42' or '1e999' (Infinity)
    const number = Number(value)
    if (JSON_NUMBER.test(value) && Number.isFinite(number)) candidates.push(number)
  }
  return candidates
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

function detailsPath (path: string[]): string {
  return ['event_specificdetails', ...path].join('.')
}
