import { ApiError, getJson, useToken } from './api.js'
import { background, byId } from './dom.js'
import { FIELD_FILTERS } from './filters.js'
import type { Session } from './session.js'

interface Me { username: string, tenant: string, roles: string[], token_expires_at: string, scope?: { field: string, value: string } }

const VIEW_HASH = /^#view=(alk_[A-Za-z0-9_-]+)$/

/**
 * Scoped view links (#30): `/ui#view=<key>` opens the viewer with a read-only API key whose fixed filter the
 * service enforces on every read. The key becomes the tab's session (as a token would), and leaves the address bar
 * at once: it is not kept in the history, nor shown in a screenshot of the page.
 */
export async function openViewLink (): Promise<Session | null> {
  const key = VIEW_HASH.exec(location.hash)?.[1]
  if (key === undefined) return null
  history.replaceState(null, '', `${location.pathname}${location.search}`)
  useToken(key)
  const me = await getJson<Me>('/me')
  const expiresAt = Date.parse(me.token_expires_at)
  const session: Session = { token: key, username: me.username, tenant: me.tenant, roles: me.roles, expiresAt }
  if (me.scope !== undefined) session.scope = me.scope
  return session
}

/** The banner of a scoped session: what it shows, and that it only reads. */
export function showScope (session: Session): void {
  const banner = byId('scope-banner')
  banner.hidden = session.scope === undefined
  if (session.scope !== undefined) {
    const until = session.expiresAt < Date.parse('9999-01-01') ? `, until ${new Date(session.expiresAt).toLocaleString()}` : ''
    banner.textContent = `A shared view: only the events whose ${session.scope.field} is ${session.scope.value}, read-only${until}.`
  }
}

/** Admins: create a link (an API key with a scope, [reader], an expiry) and show it once, to hand over. */
export function attachLinkForm (): void {
  const select = byId<HTMLSelectElement>('link-field')
  for (const field of FIELD_FILTERS) select.append(new Option(field, field))
  byId<HTMLFormElement>('new-link').addEventListener('submit', (event) => {
    event.preventDefault()
    background((async () => {
      const output = byId('new-link-url')
      const value = byId<HTMLInputElement>('link-value').value.trim()
      const days = Number(byId<HTMLInputElement>('link-days').value)
      try {
        const created = await getJson<{ key: string }>('/tenant/api-keys', {
          method: 'POST',
          body: JSON.stringify({
            name: `view link: ${select.value} = ${value}`.slice(0, 128),
            roles: ['reader'],
            scope: { field: select.value, value },
            expires_at: new Date(Date.now() + days * 86_400_000).toISOString()
          })
        })
        output.textContent = `${location.origin}/ui#view=${created.key}`
      } catch (err) {
        output.textContent = err instanceof ApiError ? err.describe() : String(err)
      }
    })())
  })
}
