import { ApiError, getJson } from './api.js'
import { byId, h } from './dom.js'
import { FIELD_FILTERS, toParams, type FieldFilter, type SearchState } from './filters.js'
import { withOneRetry } from './retry.js'

interface Facets { field: string, values: Array<{ value: string, count: number }>, exact: boolean }

/** What a person does with a value: narrow the search to it, or leave it out. */
export type ValueAction = (field: FieldFilter, kind: 'is' | 'not', value: string) => void

/**
 * Top values of a chosen field for the current search (GET /events/facets), each with "filter by" and "exclude";
 * and the same two actions for the fields of the event open in the detail. Counted only once a field is chosen:
 * it is one more read of the log.
 */
export class FacetsView {
  private readonly select = byId<HTMLSelectElement>('facet-field')
  private readonly list = byId<HTMLOListElement>('facet-values')
  private readonly status = byId('facet-status')

  constructor (private readonly act: ValueAction, private readonly reload: () => void) {
    for (const field of FIELD_FILTERS) this.select.append(h('option', { value: field }, field))
    this.select.addEventListener('change', () => this.reload())
  }

  get field (): FieldFilter | null {
    return (FIELD_FILTERS as readonly string[]).includes(this.select.value) ? this.select.value as FieldFilter : null
  }

  /** The top values of the chosen field in this search; `current` tells whether the search is still the shown one. */
  async load (state: SearchState, signal: AbortSignal, current: () => boolean): Promise<void> {
    const field = this.field
    if (field === null) { this.list.replaceChildren(); this.status.textContent = ''; return }
    const params = toParams(state)
    params.set('field', field)
    this.status.textContent = 'Loading…'
    try {
      const facets = await withOneRetry(
        async () => await getJson<Facets>(`/events/facets?${params.toString()}`, { signal }),
        signal,
        (seconds) => { this.status.textContent = `The service is busy; asking again in ${seconds} s…` }
      )
      if (!current()) return
      this.list.replaceChildren(...facets.values.map(({ value, count }) => h('li', { 'data-value': value },
        h('span', { class: 'facet-value', title: value }, value), h('span', { class: 'hint' }, String(count)),
        ...this.buttons(field, value))))
      this.list.classList.remove('stale')
      this.status.textContent = facets.values.length === 0
        ? 'No values in this search.'
        : `Most frequent ${field} values in this search${facets.exact ? '' : ' (counted over the first 20,000 distinct values)'}`
    } catch (err) {
      if (!current() || signal.aborted) return
      this.list.classList.add('stale')
      this.status.textContent = `Top values not updated: ${err instanceof ApiError ? err.describe() : String(err)}`
    }
  }

  /** "Filter by" and "Exclude" for each filterable field of an event (the detail's actions). */
  fillDetail (container: HTMLElement, event: Record<string, unknown>): void {
    const rows = FIELD_FILTERS
      .filter((field) => typeof event[field] === 'string' && event[field] !== '')
      .map((field) => h('li', {}, h('span', { class: 'facet-value' }, `${field} = ${String(event[field])}`), ...this.buttons(field, String(event[field]))))
    container.replaceChildren(...(rows.length === 0 ? [] : [h('h3', {}, 'Search from this event'), h('ul', { class: 'facet-list' }, ...rows)]))
  }

  private buttons (field: FieldFilter, value: string): HTMLButtonElement[] {
    const filter = h('button', { type: 'button', class: 'small', 'data-action': 'filter', 'aria-label': `Filter by ${field} = ${value}` }, 'Filter')
    const exclude = h('button', { type: 'button', class: 'small', 'data-action': 'exclude', 'aria-label': `Exclude ${field} = ${value}` }, 'Exclude')
    filter.addEventListener('click', () => this.act(field, 'is', value))
    exclude.addEventListener('click', () => this.act(field, 'not', value))
    return [filter, exclude]
  }
}
