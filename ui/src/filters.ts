/**
 * The search as state: every filter the API has. It lives in the page URL (so a search can be shared
 * and reloaded) with the API's own parameter names, and the API query is made from it the same way.
 */

/** The six common fields, then submitted_by and event_id: the API's exact-match filters. */
export const FIELD_FILTERS = ['event_type', 'username', 'entitytype', 'ip', 'location', 'description', 'submitted_by', 'event_id'] as const
export type FieldFilter = typeof FIELD_FILTERS[number]

export interface SearchState {
  /**
   * One entry per field; commas separate values. `x` is exactly x (any of several), `!x` not x, `x*` starts with x,
   * `!x*` does not start with x; `\!` and `\*` are the characters themselves.
   */
  fields: Partial<Record<FieldFilter, string>>
  /** Free text (the API's `q`). */
  q?: string
  /** The service's own records (`audit.*`) hidden: `event_type_not_prefix=audit.`, in the URL like any filter. */
  hideAudit?: boolean
  timeStart?: string
  timeEnd?: string
  /** `details.<path>=<value>` pairs; the path dotted, as the API spells it. */
  details: Array<{ path: string, value: string }>
}

/** A new search, and the page opened without one: the service's own records hidden, and the URL saying so. */
export function emptyState (): SearchState {
  return { fields: {}, details: [], hideAudit: true }
}

/** The namespace of the records the service writes about its own readers (audit/namespace.ts). */
export const AUDIT_PREFIX = 'audit.'

/** How a value in a field box filters, and the API parameter suffix that says it. */
const KINDS = { is: '', not: '_not', prefix: '_prefix', not_prefix: '_not_prefix' } as const
type Kind = keyof typeof KINDS

/** A value of a field box as a filter: `!x` not, `x*` starts with, `\!` and `\*` the characters themselves. */
export function parseValue (token: string): { kind: Kind, value: string } {
  const negated = token.startsWith('!')
  let value = negated ? token.slice(1) : token
  const prefix = value.endsWith('*') && !value.endsWith('\\*')
  if (prefix) value = value.slice(0, -1)
  if (value.startsWith('\\!')) value = value.slice(1)
  if (value.endsWith('\\*')) value = value.slice(0, -2) + '*'
  return { kind: negated ? (prefix ? 'not_prefix' : 'not') : (prefix ? 'prefix' : 'is'), value }
}

/**
 * The search narrowed to one value of a field (`is`: in place of the exact values the box had) or with the value
 * excluded (`not`, added to what the box says): "filter by" and "exclude" from the top values and the event detail.
 */
export function withValue (state: SearchState, field: FieldFilter, kind: 'is' | 'not', value: string): SearchState {
  const kept = valuesOf(state.fields[field] ?? '').filter((token) => kind === 'not' || parseValue(token).kind !== 'is')
  return { ...state, fields: { ...state.fields, [field]: [...kept, formatValue(kind, value)].join(', ') } }
}

/** The box text of a filter: parseValue's inverse. */
function formatValue (kind: Kind, value: string): string {
  let text = value.startsWith('!') ? '\\' + value : value
  if (text.endsWith('*')) text = text.slice(0, -1) + '\\*'
  return `${kind === 'not' || kind === 'not_prefix' ? '!' : ''}${text}${kind === 'prefix' || kind === 'not_prefix' ? '*' : ''}`
}

/** Values of a field box: split on commas, blanks dropped. */
function valuesOf (text: string): string[] {
  return text.split(',').map((value) => value.trim()).filter((value) => value !== '')
}

/** The API's query parameters of a search: repeated fields for several values, details as details.<path>. */
export function toParams (state: SearchState): URLSearchParams {
  const params = new URLSearchParams()
  for (const field of FIELD_FILTERS) {
    for (const token of valuesOf(state.fields[field] ?? '')) {
      const { kind, value } = parseValue(token)
      if (value !== '') params.append(field + KINDS[kind], value)
    }
  }
  if (state.hideAudit === true) params.append('event_type_not_prefix', AUDIT_PREFIX)
  if (state.q !== undefined && state.q.trim() !== '') params.set('q', state.q.trim())
  if (state.timeStart !== undefined && state.timeStart !== '') params.set('timeStart', state.timeStart)
  if (state.timeEnd !== undefined && state.timeEnd !== '') params.set('timeEnd', state.timeEnd)
  for (const { path, value } of state.details) {
    if (path.trim() !== '') params.append(`details.${path.trim()}`, value)
  }
  return params
}

/**
 * The search a page URL holds (what toParams wrote, or a URL someone shared). A URL without any parameter is
 * the default search, which hides the service's own records; with parameters, it shows what they say.
 */
export function fromParams (params: URLSearchParams): SearchState {
  const state: SearchState = { fields: {}, details: [], hideAudit: params.size === 0 }
  for (const field of FIELD_FILTERS) {
    const tokens: string[] = []
    for (const kind of Object.keys(KINDS) as Kind[]) {
      for (const value of params.getAll(field + KINDS[kind])) {
        if (field === 'event_type' && kind === 'not_prefix' && value === AUDIT_PREFIX) state.hideAudit = true
        else tokens.push(formatValue(kind, value))
      }
    }
    if (tokens.length > 0) state.fields[field] = tokens.join(', ')
  }
  const q = params.get('q')
  if (q !== null) state.q = q
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
