import { BadRequestError } from '../errors.js'
import { FILTER_FIELDS, type EventFilter } from '../plugins/app/event-store.js'

/**
 * Turns a validated query string into a typed EventFilter. Only the schema's own names get here
 * (unknown parameters were refused with 400), and every value is a plain string, so nothing a client
 * sends can become a query operator.
 */
export function toEventFilter (tenant: string, query: Record<string, unknown>): EventFilter {
  const filter: EventFilter = { tenant, fields: {}, details: [], detailsExists: [] }
  for (const field of FILTER_FIELDS) {
    const values = query[field]
    if (Array.isArray(values) && values.length > 0) (filter.fields ??= {})[field] = values as string[]
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
  if (filter.timeStart !== undefined && filter.timeEnd !== undefined && filter.timeStart > filter.timeEnd) {
    throw new BadRequestError('timeStart must not be after timeEnd')
  }
  return filter
}
