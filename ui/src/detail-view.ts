import { ApiError, getJson, type ApiEvent } from './api.js'
import { background, byId, h, timeCell } from './dom.js'
import { jsonView } from './json-view.js'
import { verifyEvent } from './verify.js'
import { showTypeDescription } from './event-types.js'

const ORDER = [
  'id',
  'seq',
  'timestamp',
  'event_type',
  'username',
  'entitytype',
  'ip',
  'location',
  'description',
  'submitted_by',
  'event_id',
  'occurred_at',
  'tenant',
  'hash',
  'salt',
  'erased'
]

/** One event in a modal dialog (Escape closes it, focus returns to its row): every field, the details as a tree, and Verify. */
export class DetailView {
  private readonly dialog = byId<HTMLDialogElement>('detail')
  private readonly result = byId('verify-result')
  private readonly steps = byId('verify-steps')
  private event: ApiEvent | null = null

  constructor () {
    byId('detail-close').addEventListener('click', () => this.dialog.close())
    byId('verify').addEventListener('click', () => { background(this.verify()) })
  }

  async open (summary: ApiEvent): Promise<void> {
    this.show(summary)
    this.dialog.showModal()
    try {
      // the full event as GET /events/{id} answers it (with seq, hash and salt)
      this.show(await getJson<ApiEvent>(`/events/${encodeURIComponent(summary.id)}`))
    } catch (err) {
      this.result.textContent = err instanceof ApiError ? err.describe() : String(err)
    }
  }

  private show (event: ApiEvent): void {
    this.event = event
    byId('detail-title').textContent = `Event ${event.event_type}`
    showTypeDescription(event.event_type, event.schema_version)
    const fields = byId('detail-fields')
    fields.replaceChildren()
    const names = [
      ...ORDER.filter((name) => name in event),
      ...Object.keys(event).filter((name) => !ORDER.includes(name) && name !== 'event_specificdetails')
    ]
    const erased = new Set(event.erased ?? [])
    for (const name of names) {
      const value = event[name]
      const text = typeof value === 'string' || typeof value === 'number' ? String(value) : JSON.stringify(value)
      // an erased field is null with its path in `erased`: say so rather than show "null"
      const shown = erased.has(name)
        ? h('span', { class: 'erased', title: 'erased by a data-subject request; its commitment keeps the proof' }, 'erased')
        : (name === 'timestamp' || name === 'occurred_at') && typeof value === 'string'
            ? timeCell(value)
            : text
      fields.append(h('dt', {}, name), h('dd', { 'data-field': name }, shown))
    }
    byId('detail-json').replaceChildren(
      event.event_specificdetails === undefined ? h('span', { class: 'hint' }, '(none)') : jsonView(event.event_specificdetails)
    )
    this.result.textContent = ''
    this.result.className = ''
    this.steps.replaceChildren()
  }

  private async verify (): Promise<void> {
    if (this.event === null) return
    const button = byId<HTMLButtonElement>('verify')
    button.disabled = true
    this.result.className = ''
    this.result.textContent = 'Verifying…'
    this.steps.replaceChildren()
    try {
      const { verified, steps } = await verifyEvent(this.event)
      this.result.className = verified ? 'verified' : 'failed'
      this.result.textContent = verified
        ? 'Verified: this event is in the signed log, unchanged.'
        : 'Verification failed: this event does not match the signed log.'
      for (const step of steps) {
        this.steps.append(
          h(
            'li',
            {},
            `${step.ok ? '✓' : '✗'} ${step.label}`,
            step.detail === undefined ? '' : h('span', { class: 'hint' }, ` — ${step.detail}`)
          )
        )
      }
    } catch (err) {
      // not a verdict: no proof or checkpoint could be had (none signed yet, the service down)
      this.result.className = ''
      this.result.textContent = `Could not verify: ${err instanceof ApiError ? err.describe() : String(err)}`
    } finally {
      button.disabled = false
    }
  }
}
