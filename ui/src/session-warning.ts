import { ApiError } from './api.js'
import { background, byId } from './dom.js'

/** From this long before a session ends, the page says how long is left and offers to renew it. */
const WARN_MS = 2 * 60_000
let ticker: number | undefined

/**
 * The warning before a session ends, and its renewal: the service has no refresh token (a token is a short
 * credential on purpose), so renewing is logging in again, in a small dialog over the page; the search, the rows
 * and the URL stay as they are. `renew` logs in with the password and starts the new session.
 */
export function warnBefore (expiresAt: number, renew: (password: string) => Promise<void>): void {
  window.clearInterval(ticker)
  const banner = byId('session-warning')
  const tick = (): void => {
    const left = expiresAt - Date.now()
    banner.hidden = left > WARN_MS || left <= 0
    if (!banner.hidden) byId('session-left').textContent = left >= 60_000 ? `${Math.ceil(left / 60_000)} min` : `${Math.ceil(left / 1000)} s`
  }
  tick()
  ticker = window.setInterval(tick, 1000)
  renewWith = renew
}

export function stopWarning (): void {
  window.clearInterval(ticker)
  byId('session-warning').hidden = true
}

let renewWith: ((password: string) => Promise<void>) | undefined

const dialog = byId<HTMLDialogElement>('renew-dialog')
byId('session-renew').addEventListener('click', () => {
  byId('renew-error').textContent = ''
  dialog.showModal()
  byId('renew-password').focus()
})
byId('renew-cancel').addEventListener('click', () => dialog.close())
byId<HTMLFormElement>('renew-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const field = byId<HTMLInputElement>('renew-password')
  background((async () => {
    try {
      await renewWith?.(field.value)
      field.value = ''
      dialog.close()
    } catch (err) {
      byId('renew-error').textContent = err instanceof ApiError ? err.describe() : String(err)
    }
  })())
})
