/**
 * The search as state: every filter the API has. It lives in the page URL (so a search can be shared
 * and reloaded) with the API's own parameter names, and the API query is made from it the same way.
 */

/** The six common fields, then submitted_by and event_id: the API's exact-match filters. */
export const FIELD_FILTERS = ['event_type', 'username', 'entitytype', 'ip', 'location', 'description', 'submitted_by', 'event_id'] as const
export type FieldFilter = typeof FIELD_FILTERS[number]

export interface SearchState {
  /** One entry per field; commas separate values that any may match. */
  fields: Partial<Record<FieldFilter, string>>
  timeStart?: string
  timeEnd?: string
  /** `details.<path>=<value>` pairs; the path dotted, as the API spells it. */
  details: Array<{ path: string, value: string }>
}

export function emptyState (): SearchState {
  return { fields: {}, details: [] }
}

/** Values of a field box: split on commas, blanks dropped. */
function valuesOf (text: string): string[] {
  return text.split(',').map((value) => value.trim()).filter((value) => value !== '')
}

/** The API's query parameters of a search: repeated fields for several values, details as details.<path>. */
export function toParams (state: SearchState): URLSearchParams {
  const params = new URLSearchParams()
  for (const field of FIELD_FILTERS) for (const value of valuesOf(state.fields[field] ?? '')) params.append(field, value)
  if (state.timeStart !== undefined && state.timeStart !== '') params.set('timeStart', state.timeStart)
  if (state.timeEnd !== undefined && state.timeEnd !== '') params.set('timeEnd', state.timeEnd)
  for (const { path, value } of state.details) {
    if (path.trim() !== '') params.append(`details.${path.trim()}`, value)
  }
  return params
}

/** The search a page URL holds (what toParams wrote, or a URL someone shared). */
export function fromParams (params: URLSearchParams): SearchState {
  const state = emptyState()
  for (const field of FIELD_FILTERS) {
    const values = params.getAll(field)
    if (values.length > 0) state.fields[field] = values.join(', ')
  }
  state.timeStart = params.get('timeStart') ?? undefined
  state.timeEnd = params.get('timeEnd') ?? undefined
  for (const [name, value] of params) {
    if (name.startsWith('details.')) state.details.push({ path: name.slice('details.'.length), value })
  }
  return state
}

/** RFC 3339 as the API accepts it: a date, a time and an offset (Z or ±hh:mm). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** A problem with the range a person typed, said before the API is asked; null when it is fine. */
export function rangeProblem (state: SearchState): string | null {
  for (const [name, value] of [['From', state.timeStart], ['Until', state.timeEnd]] as const) {
    if (value !== undefined && value !== '' && (!RFC3339.test(value) || Number.isNaN(Date.parse(value)))) {
      return `${name}: "${value}" is not an RFC 3339 time such as 2026-12-01T10:00:00Z`
    }
  }
  if (
    state.timeStart !== undefined &&
    state.timeEnd !== undefined &&
    state.timeStart !== '' &&
    state.timeEnd !== '' &&
    Date.parse(state.timeStart) > Date.parse(state.timeEnd)
  ) {
    return 'From must not be after Until'
  }
  return null
}

/** Histogram widths the API offers, narrowest first, with their length in ms. */
export const INTERVALS: Array<[string, number]> = [
  ['1m', 60_000],
  ['5m', 300_000],
  ['15m', 900_000],
  ['1h', 3_600_000],
  ['6h', 21_600_000],
  ['1d', 86_400_000]
]

/** The narrowest interval that gives at most `target` buckets over the range. */
export function intervalFor (start: number, end: number, target = 120): string {
  for (const [name, width] of INTERVALS) if ((end - start) / width <= target) return name
  return '1d'
}
