import { getJson } from './api.js'
import { byId, h } from './dom.js'

/**
 * The tenant's registered event types (GET /tenant/event-types): offered as a type picker on the event_type filter
 * (a datalist: typing still works, for unregistered types), and each type's description shown in the event detail.
 */
interface EventTypeSummary { event_type: string, version: number, description: string, deprecated: boolean }

const known = new Map<string, EventTypeSummary>()

/** Reads the types and fills the picker; a failure leaves the filter a plain text box. */
export async function loadEventTypes (): Promise<void> {
  const { items } = await getJson<{ items: EventTypeSummary[] }>('/tenant/event-types')
  known.clear()
  for (const item of items) known.set(item.event_type, item)
  let list = document.getElementById('event-type-options')
  if (list === null) {
    list = h('datalist', { id: 'event-type-options' })
    document.body.append(list)
  }
  list.replaceChildren(...items.map((item) => h('option', {
    value: item.event_type,
    label: `${item.description}${item.deprecated ? ' (deprecated)' : ''}`
  })))
  byId<HTMLInputElement>('filter-event_type').setAttribute('list', 'event-type-options')
}

/** Below the detail's title: what the event's type records, when the type is registered. */
export function showTypeDescription (eventType: string, schemaVersion: unknown): void {
  const title = byId('detail-title')
  let line = document.getElementById('detail-type-description')
  if (line === null) {
    line = h('p', { id: 'detail-type-description', class: 'hint' })
    title.after(line)
  }
  const type = known.get(eventType)
  const version = typeof schemaVersion === 'number' ? ` Validated against version ${schemaVersion} of its schema.` : ''
  line.textContent = type === undefined ? version.trim() : `${type.description}${type.deprecated ? ' (deprecated type)' : ''}.${version}`
  line.hidden = line.textContent === ''
}
