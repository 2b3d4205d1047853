import type { ApiEvent } from './api.js'
import { FIELD_FILTERS } from './filters.js'

/** The columns of the results table unless the URL says others: the six fields of the brief. */
export const DEFAULT_COLUMNS = ['event_type', 'username', 'entitytype', 'ip', 'location', 'description']
/** Fields offered as columns; besides them, any `details.<path>` inside event_specificdetails. */
export const COLUMN_FIELDS: readonly string[] = FIELD_FILTERS
const DETAILS = /^details(\.[^.]+){1,8}$/
const MAX_COLUMNS = 20

/**
 * The columns a page URL asks for (`columns=event_type,username,details.card.brand`), or the default: kept in the
 * URL beside the search (and never sent to the API, which would refuse the unknown parameter).
 */
export function columnsOf (params: URLSearchParams): string[] {
  const asked = (params.get('columns') ?? '').split(',').map((column) => column.trim())
    .filter((column) => COLUMN_FIELDS.includes(column) || DETAILS.test(column))
  return asked.length === 0 ? [...DEFAULT_COLUMNS] : [...new Set(asked)].slice(0, MAX_COLUMNS)
}

/** The page URL's parameters: the search's, and the columns when they are not the default. */
export function withColumns (params: URLSearchParams, columns: string[]): URLSearchParams {
  const url = new URLSearchParams(params)
  if (columns.join(',') !== DEFAULT_COLUMNS.join(',')) url.set('columns', columns.join(','))
  return url
}

/** What a cell shows: the field, or the value at a details path (objects and lists as JSON). */
export function cellText (event: ApiEvent, column: string): string {
  if (!column.startsWith('details.')) return String(event[column] ?? '')
  let value: unknown = event.event_specificdetails
  for (const key of column.slice('details.'.length).split('.')) {
    value = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined
  }
  return value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value)
}
