import { byId } from './dom.js'

/**
 * A date-time picker beside each RFC 3339 box, in the person's own time zone (the browser's `datetime-local`):
 * picking fills the box with the same instant in UTC, which is what the URL and the API carry; a valid time typed
 * in the box moves the picker. The box stays the source of truth, so a pasted RFC 3339 time works as before.
 */
export function attachPickers (): void {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone
  byId('time-zone').textContent = `pickers in your time zone, ${zone}`
  for (const id of ['timeStart', 'timeEnd']) {
    const box = byId<HTMLInputElement>(id)
    const picker = byId<HTMLInputElement>(`${id}-picker`)
    picker.addEventListener('change', () => {
      const instant = new Date(picker.value)
      if (picker.value !== '' && !Number.isNaN(instant.getTime())) box.value = instant.toISOString()
    })
    box.addEventListener('input', () => syncPicker(box, picker))
  }
}

/** The pickers follow the boxes (after a quick range, a URL, or typing). */
export function syncPickers (): void {
  for (const id of ['timeStart', 'timeEnd']) syncPicker(byId<HTMLInputElement>(id), byId<HTMLInputElement>(`${id}-picker`))
}

function syncPicker (box: HTMLInputElement, picker: HTMLInputElement): void {
  const instant = new Date(box.value)
  picker.value = box.value === '' || Number.isNaN(instant.getTime()) ? '' : localInput(instant)
}

/** An instant as `datetime-local` wants it: the local wall time, to the second. */
function localInput (instant: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0')
  return `${instant.getFullYear()}-${pad(instant.getMonth() + 1)}-${pad(instant.getDate())}T${pad(instant.getHours())}:${pad(instant.getMinutes())}:${pad(instant.getSeconds())}`
}
