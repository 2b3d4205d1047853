import { ApiError, getJson, request, type ApiEvent, type EventPage, type Histogram } from './api.js'
import { Timeline } from './chart.js'
import { background, byId, h, timeCell } from './dom.js'
import { emptyState, FIELD_FILTERS, fromParams, intervalFor, rangeProblem, toParams, withValue, type SearchState } from './filters.js'
import { FacetsView } from './facets-view.js'
import { LiveTail } from './live-tail.js'
import { attachPickers, syncPickers } from './time-pickers.js'
import { cellText, COLUMN_FIELDS, columnsOf, withColumns } from './columns.js'
import { withOneRetry } from './retry.js'

const PAGE = 50
const LABELS: Record<string, string> = {
  event_type: 'Event type',
  username: 'Username',
  entitytype: 'Entity type',
  ip: 'IP',
  location: 'Location',
  description: 'Description',
  submitted_by: 'Submitted by',
  event_id: 'Event id'
}

/** The search page: filters (mirrored in the URL), the timeline, the results with "load more", and exports. */
export class SearchView {
  private readonly form = byId<HTMLFormElement>('search-form')
  private readonly body = byId<HTMLTableSectionElement>('results-body')
  private readonly status = byId('results-status')
  private readonly error = byId('results-error')
  private readonly more = byId<HTMLButtonElement>('load-more')
  private readonly chartStatus = byId('chart-status')
  private readonly timeline: Timeline
  private cursor: string | null = null
  private state: SearchState = fromParams(new URLSearchParams(location.search))
  /** Answers of an older search are dropped when a newer one was started. */
  private generation = 0
  /** Cancels the requests of the search a newer one replaced: the server stops their reads and frees their turn. */
  private controller = new AbortController()
  private shown = 0
  /** Matches on the timeline and its range, for the count of the hidden records beside it. */
  private timelineTotal: number | null = null
  private timelineSpan = { start: 0, end: 0 }

  private readonly facets = new FacetsView(
    (field, kind, value) => {
      const dialog = byId<HTMLDialogElement>('detail')
      if (dialog.open) dialog.close()
      background(this.search(withValue(this.readForm(), field, kind, value)))
    },
    () => { background(this.facets.load(this.state, this.controller.signal, () => true)) }
  )

  /** The table's columns after Time and Seq (in the URL as `columns=`), and the events shown, in order. */
  private columns = columnsOf(new URLSearchParams(location.search))
  private shownEvents: ApiEvent[] = []
  /** The newest seq among the rows shown: where a live tail starts. */
  private newestSeq: number | undefined
  private readonly live = new LiveTail((events) => this.prepend(events), (text) => { byId('live-status').textContent = text })

  constructor (private readonly openEvent: (event: ApiEvent) => void) {
    const inputs = byId('field-inputs')
    inputs.append(h('label', {}, 'Text (any field)', h('input', { id: 'filter-q', name: 'q', spellcheck: 'false', autocomplete: 'off' })))
    for (const field of FIELD_FILTERS) {
      inputs.append(
        h('label', {}, LABELS[field] ?? field, h('input', { id: `filter-${field}`, name: field, spellcheck: 'false', autocomplete: 'off' }))
      )
    }
    this.timeline = new Timeline(byId('chart'), (start, end) => this.narrow(start, end))
    attachPickers()
    this.form.addEventListener('submit', (event) => { event.preventDefault(); background(this.search(this.readForm())) })
    byId('add-detail').addEventListener('click', () => { this.addDetailRow('', '').querySelector('input')?.focus() })
    byId('clear-filters').addEventListener('click', () => { background(this.search(emptyState())) })
    byId('hide-audit').addEventListener('change', () => { background(this.search(this.readForm())) })
    for (const button of this.form.querySelectorAll<HTMLButtonElement>('.quick button')) {
      button.addEventListener('click', () => this.quickRange(button.dataset.range ?? ''))
    }
    this.more.addEventListener('click', () => { background(this.loadPage(this.generation)) })
    byId<HTMLInputElement>('live-tail').addEventListener('change', () => this.follow())
    const choices = byId('column-choices')
    for (const field of COLUMN_FIELDS) {
      choices.append(h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'column', value: field }), LABELS[field] ?? field))
    }
    byId('columns-apply').addEventListener('click', () => this.chooseColumns())
    this.showColumns()
    // a person reading the list (pointer or focus on it) is not moved under: the tail pauses, and resumes after its last seq
    const table = byId('results').parentElement ?? byId('results')
    table.addEventListener('pointerenter', () => this.live.pause())
    table.addEventListener('pointerleave', () => { if (!table.contains(document.activeElement)) this.live.resume() })
    table.addEventListener('focusin', () => this.live.pause())
    table.addEventListener('focusout', (event) => { if (!table.contains(event.relatedTarget as Node | null) && !table.matches(':hover')) this.live.resume() })
    byId('export-csv').addEventListener('click', () => { background(this.export('csv')) })
    byId('export-ndjson').addEventListener('click', () => { background(this.export('ndjson')) })
    window.addEventListener('popstate', () => {
      this.state = fromParams(new URLSearchParams(location.search))
      this.columns = columnsOf(new URLSearchParams(location.search))
      this.showColumns()
      this.writeForm()
      background(this.run())
    })
  }

  /** Shows the search the URL holds and runs it; the default search is written into the URL, which says what is shown. */
  async start (): Promise<void> {
    const query = withColumns(toParams(this.state), this.columns).toString()
    if (location.search === '' && query !== '') history.replaceState(null, '', `${location.pathname}?${query}${location.hash}`)
    this.writeForm()
    await this.run()
  }

  private quickRange (range: string): void {
    const state = this.readForm()
    if (range === '') {
      state.timeStart = undefined
      state.timeEnd = undefined
    } else {
      const now = Date.now()
      state.timeStart = new Date(now - Number(range)).toISOString()
      state.timeEnd = new Date(now).toISOString()
    }
    background(this.search(state))
  }

  private narrow (start: Date, end: Date): void {
    background(this.search({ ...this.readForm(), timeStart: start.toISOString(), timeEnd: end.toISOString() }))
  }

  private addDetailRow (path: string, value: string): HTMLElement {
    const rows = byId('details-rows')
    const n = rows.children.length + 1
    const remove = h('button', { type: 'button', 'aria-label': `Remove details filter ${n}` }, 'Remove')
    const row = h(
      'div',
      { class: 'details-row' },
      h(
        'label',
        {},
        'Path',
        h('input', { name: 'details-path', value: path, placeholder: 'card.brand', spellcheck: 'false', 'aria-label': `Details path ${n}` })
      ),
      h(
        'label',
        {},
        'Value',
        h('input', { name: 'details-value', value, placeholder: 'visa', spellcheck: 'false', 'aria-label': `Details value ${n}` })
      ),
      remove
    )
    remove.addEventListener('click', () => { row.remove(); byId('add-detail').focus() })
    rows.append(row)
    return row
  }

  private readForm (): SearchState {
    const state: SearchState = { fields: {}, details: [], hideAudit: byId<HTMLInputElement>('hide-audit').checked }
    const q = byId<HTMLInputElement>('filter-q').value.trim()
    if (q !== '') state.q = q
    for (const field of FIELD_FILTERS) {
      const value = byId<HTMLInputElement>(`filter-${field}`).value.trim()
      if (value !== '') state.fields[field] = value
    }
    const start = byId<HTMLInputElement>('timeStart').value.trim()
    const end = byId<HTMLInputElement>('timeEnd').value.trim()
    if (start !== '') state.timeStart = start
    if (end !== '') state.timeEnd = end
    for (const row of byId('details-rows').querySelectorAll('.details-row')) {
      const [path, value] = Array.from(row.querySelectorAll('input'), (input) => input.value.trim())
      if (path !== undefined && path !== '') state.details.push({ path, value: value ?? '' })
    }
    return state
  }

  private writeForm (): void {
    for (const field of FIELD_FILTERS) byId<HTMLInputElement>(`filter-${field}`).value = this.state.fields[field] ?? ''
    byId<HTMLInputElement>('filter-q').value = this.state.q ?? ''
    byId<HTMLInputElement>('hide-audit').checked = this.state.hideAudit === true
    byId<HTMLInputElement>('timeStart').value = this.state.timeStart ?? ''
    byId<HTMLInputElement>('timeEnd').value = this.state.timeEnd ?? ''
    syncPickers()
    byId('details-rows').replaceChildren()
    for (const { path, value } of this.state.details) this.addDetailRow(path, value)
  }

  /** A new search: into the URL (a history entry, so Back returns to the previous one), then run. */
  private async search (state: SearchState): Promise<void> {
    this.state = state
    this.writeForm()
    const query = withColumns(toParams(state), this.columns).toString()
    history.pushState(null, '', `${location.pathname}${query === '' ? '' : '?' + query}${location.hash}`)
    await this.run()
  }

  private async run (): Promise<void> {
    const generation = ++this.generation
    this.controller.abort()
    this.controller = new AbortController()
    const signal = this.controller.signal
    this.cursor = null
    this.shown = 0
    this.shownEvents = []
    this.newestSeq = undefined
    this.live.stop()
    this.error.hidden = true
    const problem = rangeProblem(this.state)
    const rangeError = byId('range-error')
    rangeError.textContent = problem ?? ''
    for (const id of ['timeStart', 'timeEnd']) byId(id).toggleAttribute('aria-invalid', problem?.startsWith(id === 'timeStart' ? 'From' : 'Until') === true)
    if (problem !== null) {
      // said beside the field; what is shown stays, and says it is not this search's answer
      this.body.classList.add('stale')
      byId('chart').classList.add('stale')
      this.more.hidden = true
      this.status.textContent = 'Not updated: fix the time range above.'
      this.chartStatus.textContent = 'Not updated.'
      return
    }
    // the rows of the previous search stay, dimmed, until the new ones replace them: nothing jumps
    if (this.body.querySelector('tr:not(.placeholder)') !== null) {
      this.body.classList.add('stale')
      this.status.textContent = 'Loading…'
      this.more.hidden = true
    } else {
      this.placeholder('Loading…')
    }
    byId('hidden-count').textContent = ''
    // two reads at once, the per-tenant bound's default: the count of hidden records waits for them
    await Promise.all([this.loadPage(generation, signal), this.loadHistogram(generation, signal)])
    if (this.state.hideAudit === true) await this.countHidden(generation, signal)
    if (generation === this.generation) this.follow()
    await this.facets.load(this.state, signal, () => generation === this.generation)
  }

  /** The columns chosen in the form: the table redrawn from the events it has, the URL updated (not a new search). */
  private chooseColumns (): void {
    const fields = Array.from(document.querySelectorAll<HTMLInputElement>('#column-choices input:checked'), (box) => box.value)
    const paths = byId<HTMLInputElement>('column-details').value.split(',').map((path) => path.trim()).filter((path) => path !== '')
    this.columns = columnsOf(new URLSearchParams({ columns: [...fields, ...paths.map((path) => `details.${path}`)].join(',') }))
    this.showColumns()
    const query = withColumns(toParams(this.state), this.columns).toString()
    history.replaceState(null, '', `${location.pathname}${query === '' ? '' : '?' + query}${location.hash}`)
    if (this.shownEvents.length > 0) this.body.replaceChildren(...this.shownEvents.map((event) => this.row(event)))
  }

  /** The header and the chooser say the current columns. */
  private showColumns (): void {
    const head = byId('results').querySelector('thead tr')
    head?.replaceChildren(h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Seq'),
      ...this.columns.map((column) => h('th', { scope: 'col' }, LABELS[column] ?? column)))
    for (const box of document.querySelectorAll<HTMLInputElement>('#column-choices input')) box.checked = this.columns.includes(box.value)
    byId<HTMLInputElement>('column-details').value = this.columns.filter((column) => column.startsWith('details.'))
      .map((column) => column.slice('details.'.length)).join(', ')
  }

  /** The session ended: nothing more is asked with a token that is gone (the page shows the login). */
  stop (): void {
    this.generation++
    this.controller.abort()
    this.live.stop()
  }

  /** The live tail on or off, with the search's filters, after the newest event shown. */
  private follow (): void {
    if (byId<HTMLInputElement>('live-tail').checked && rangeProblem(this.state) === null) this.live.start(toParams(this.state), this.newestSeq)
    else this.live.stop()
  }

  /** Events the live tail delivered, oldest first: each goes on top, once. */
  private prepend (events: ApiEvent[]): void {
    this.body.querySelector('tr.placeholder')?.remove()
    for (const event of events) {
      if (this.body.querySelector(`tr[data-id="${event.id}"]`) !== null) continue
      this.body.prepend(this.row(event))
      this.shownEvents.unshift(event)
      this.shown++
      if (event.seq !== undefined) this.newestSeq = Math.max(this.newestSeq ?? 0, event.seq)
    }
    this.status.textContent = `${this.shown} event${this.shown === 1 ? '' : 's'}${this.cursor === null ? '' : ' so far'} (live)`
  }

  private placeholder (text: string): void {
    this.body.replaceChildren(h('tr', { class: 'placeholder' }, h('td', { colspan: String(this.columns.length + 2) }, text)))
    this.more.hidden = true
    this.status.textContent = text
  }

  private showError (message: string): void {
    this.error.textContent = message
    this.error.hidden = false
    this.status.textContent = 'Error'
  }

  private async loadPage (generation: number, signal = this.controller.signal): Promise<void> {
    const params = toParams(this.state)
    params.set('limit', String(PAGE))
    if (this.cursor !== null) params.set('cursor', this.cursor)
    this.more.disabled = true
    this.more.textContent = 'Loading…'
    try {
      const page = await withOneRetry(
        async () => await getJson<EventPage>(`/events?${params.toString()}`, { signal }),
        signal,
        (seconds) => { this.status.textContent = `The service is busy; asking again in ${seconds} s…` }
      )
      if (generation !== this.generation) return
      if (this.shown === 0) this.body.replaceChildren()
      this.body.classList.remove('stale')
      for (const event of page.items) {
        this.body.append(this.row(event))
        this.shownEvents.push(event)
        if (event.seq !== undefined) this.newestSeq = Math.max(this.newestSeq ?? 0, event.seq)
      }
      this.shown += page.items.length
      this.cursor = page.next_cursor
      if (this.shown === 0) this.placeholder('No events match this search.')
      else this.status.textContent = `${this.shown} event${this.shown === 1 ? '' : 's'}${this.cursor === null ? '' : ' so far'}`
      this.more.hidden = this.cursor === null
    } catch (err) {
      if (generation !== this.generation || signal.aborted) return
      // what was shown stays, dimmed and said to be the previous search's: an error never blanks the page
      const previous = this.shown === 0 && this.body.querySelector('tr:not(.placeholder)') !== null
      const message = err instanceof ApiError ? err.describe() : String(err)
      if (!previous && this.shown === 0) this.placeholder('No events shown.')
      this.showError(previous ? `${message} The events below are from the previous search.` : message)
    } finally {
      this.more.disabled = false
      this.more.textContent = 'Load more'
    }
  }

  private row (event: ApiEvent): HTMLTableRowElement {
    const row = h(
      'tr',
      { tabindex: '0', 'data-id': event.id, 'aria-label': `Open event ${event.event_type} by ${event.username ?? 'an erased user'}` },
      h('td', {}, timeCell(event.timestamp)),
      h('td', {}, event.seq === undefined ? '' : String(event.seq)),
      ...this.columns.map((column) =>
        event.erased?.includes(column) === true
          ? h('td', { class: 'erased', title: 'erased by a data-subject request' }, 'erased')
          : h('td', { title: cellText(event, column) }, cellText(event, column))
      )
    )
    const open = (): void => {
      this.facets.fillDetail(byId('detail-actions'), event)
      this.openEvent(event)
    }
    row.addEventListener('click', open)
    row.addEventListener('keydown', (key) => {
      if (key.key === 'Enter' || key.key === ' ') { key.preventDefault(); open() }
      if (key.key === 'ArrowDown') { key.preventDefault(); (row.nextElementSibling as HTMLElement | null)?.focus() }
      if (key.key === 'ArrowUp') { key.preventDefault(); (row.previousElementSibling as HTMLElement | null)?.focus() }
    })
    return row
  }

  /** The histogram over the chosen range; with an open range, the last 24 hours up to the end (or now). */
  private async loadHistogram (generation: number, signal: AbortSignal): Promise<void> {
    const { start, end } = this.timelineRange()
    this.timelineSpan = { start, end }
    const params = toParams({ ...this.state, timeStart: new Date(start).toISOString(), timeEnd: new Date(end).toISOString() })
    params.set('interval', intervalFor(start, end))
    this.chartStatus.textContent = 'Loading…'
    this.timelineTotal = null
    try {
      const histogram = await withOneRetry(
        async () => await getJson<Histogram>(`/events/histogram?${params.toString()}`, { signal }),
        signal,
        (seconds) => { this.chartStatus.textContent = `The service is busy; asking again in ${seconds} s…` }
      )
      if (generation !== this.generation) return
      this.timelineTotal = histogram.total
      byId('chart').classList.remove('stale')
      this.timeline.show(histogram)
      this.chartStatus.textContent = `${histogram.total} event${histogram.total === 1 ? '' : 's'}, in bars of ${histogram.interval}${this.state.timeStart === undefined ? ' (last 24 h shown)' : ''}; click a bar to narrow the range`
    } catch (err) {
      if (generation !== this.generation || signal.aborted) return
      // the previous chart stays, dimmed: the list below may well have its answer
      byId('chart').classList.add('stale')
      this.chartStatus.textContent = `Timeline not updated: ${err instanceof ApiError ? err.describe() : String(err)}`
    }
  }

  /**
   * How many of the search's matches on the timeline are the service's own records, hidden: the same histogram
   * without the hiding, less the timeline's total (one more read, after the two of the search).
   */
  private async countHidden (generation: number, signal: AbortSignal): Promise<void> {
    const shown = this.timelineTotal
    if (shown === null) return
    const { start, end } = this.timelineSpan
    const range = { timeStart: new Date(start).toISOString(), timeEnd: new Date(end).toISOString() }
    const params = toParams({ ...this.state, ...range, hideAudit: false })
    params.set('interval', intervalFor(start, end))
    const label = byId('hidden-count')
    try {
      const all = await withOneRetry(async () => await getJson<Histogram>(`/events/histogram?${params.toString()}`, { signal }), signal, () => {})
      if (generation !== this.generation) return
      const hidden = Math.max(0, all.total - shown)
      label.textContent = `${hidden} hidden${this.state.timeStart === undefined ? ' in the last 24 h' : ' in this range'}`
    } catch (err) {
      if (generation !== this.generation || signal.aborted) return
      label.textContent = '(how many: not known just now)'
    }
  }

  /** The timeline's range: the search's, or the last 24 hours up to its end (or now). */
  private timelineRange (): { start: number, end: number } {
    const end = this.state.timeEnd !== undefined ? Date.parse(this.state.timeEnd) : Date.now()
    const start = this.state.timeStart !== undefined ? Date.parse(this.state.timeStart) : end - 86_400_000
    return { start, end }
  }

  /** The whole current search as a file: fetched with the token (a plain link could not send it), then saved. */
  private async export (format: 'csv' | 'ndjson'): Promise<void> {
    const params = toParams(this.state)
    params.set('format', format)
    params.set('order', 'desc')
    const button = byId<HTMLButtonElement>(format === 'csv' ? 'export-csv' : 'export-ndjson')
    button.disabled = true
    try {
      const response = await request(`/events/export?${params.toString()}`)
      const blob = await response.blob()
      const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `events.${format}`
      const link = h('a', { href: URL.createObjectURL(blob), download: name })
      document.body.append(link)
      link.click()
      link.remove()
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000)
    } catch (err) {
      this.showError(err instanceof ApiError ? err.describe() : String(err))
    } finally {
      button.disabled = false
    }
  }
}
