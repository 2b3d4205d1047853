import { ApiError, getJson, useToken, whenExpired } from './api.js'
import { DetailView } from './detail-view.js'
import { background, byId } from './dom.js'
import { SearchView } from './search-view.js'
import { clearSession, loadSession, readClaims, saveSession, type Session } from './session.js'
import { UsersView } from './users-view.js'
import { stopWarning, warnBefore } from './session-warning.js'
import { attachLinkForm, openViewLink, showScope } from './view-links.js'
import { loadEventTypes } from './event-types.js'

/** The viewer: log in, then the search (default) or, for admins, the users page (#users). */
const views = { login: byId('login-view'), search: byId('search-view'), users: byId('users-view') }
const detail = new DetailView()
const search = new SearchView((event) => { background(detail.open(event)) })
const users = new UsersView()
let session: Session | null = null
let expiryTimer: number | undefined
let searched = false

function show (name: keyof typeof views): void {
  for (const [key, view] of Object.entries(views)) view.hidden = key !== name
  byId('nav').hidden = name === 'login'
  byId('nav-search').toggleAttribute('aria-current', name === 'search')
  byId('nav-users').toggleAttribute('aria-current', name === 'users')
  if (name === 'search') byId('nav-search').setAttribute('aria-current', 'page')
  if (name === 'users') byId('nav-users').setAttribute('aria-current', 'page')
}

function route (): void {
  if (session === null) { show('login'); byId('login-username').focus(); return }
  if (location.hash === '#users' && session.roles.includes('admin')) {
    show('users')
    background(users.load())
  } else {
    show('search')
    if (!searched) { searched = true; background(search.start()) }
  }
}

function begin (next: Session): void {
  session = next
  useToken(next.token)
  saveSession(next)
  byId('who').textContent = `${next.username} @ ${next.tenant}`
  byId('logout').hidden = false
  byId('nav-users').hidden = !next.roles.includes('admin')
  watchExpiry(next.expiresAt)
  // the type picker: the search works without it (a view link reads its events only, not the tenant's types)
  if (next.scope === undefined) background(loadEventTypes())
  showScope(next)
  route()
}

/** Noticed when it happens, not at the next click: the page asks to log in again. */
function watchExpiry (expiresAt: number): void {
  window.clearTimeout(expiryTimer)
  warnBefore(expiresAt, renew)
  const left = expiresAt - Date.now()
  if (left <= 0) { end('Your session expired. Log in again.'); return }
  // setTimeout takes at most 2^31-1 ms (about 24 days); a longer token is looked at again then
  expiryTimer = window.setTimeout(() => watchExpiry(expiresAt), Math.min(left, 2 ** 31 - 1))
}

/** A new token for the same user, the page left as it is (session-warning.ts): logging in again, in place. */
async function renew (password: string): Promise<void> {
  if (session === null) return
  const { username, tenant } = session
  const answer = await getJson<{ access_token: string, expires_in: number }>('/login', { method: 'POST', body: JSON.stringify({ username, password, tenant }) })
  const claims = readClaims(answer.access_token)
  const expiresAt = claims.exp !== undefined ? claims.exp * 1000 : Date.now() + answer.expires_in * 1000
  begin({ token: answer.access_token, username, tenant, roles: claims.roles ?? [], expiresAt })
}

function end (notice: string): void {
  session = null
  stopWarning()
  // what was asked with the ended session is dropped; the next login runs the search again
  search.stop()
  searched = false
  useToken(null)
  clearSession()
  window.clearTimeout(expiryTimer)
  byId('who').textContent = ''
  byId('logout').hidden = true
  byId('login-notice').textContent = notice
  const dialog = byId<HTMLDialogElement>('detail')
  if (dialog.open) dialog.close()
  route()
}

byId<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  background((async () => {
    const data = new FormData(event.target as HTMLFormElement)
    const tenant = String(data.get('tenant') ?? '').trim()
    const body = {
      username: String(data.get('username') ?? ''),
      password: String(data.get('password') ?? ''),
      ...(tenant === '' ? {} : { tenant })
    }
    const error = byId('login-error')
    error.textContent = ''
    try {
      const answer = await getJson<{ access_token: string, expires_in: number }>('/login', { method: 'POST', body: JSON.stringify(body) })
      const claims = readClaims(answer.access_token)
      byId<HTMLInputElement>('login-password').value = ''
      byId('login-notice').textContent = ''
      begin({
        token: answer.access_token,
        username: claims.sub ?? body.username,
        tenant: claims.tenant ?? tenant,
        roles: claims.roles ?? [],
        expiresAt: claims.exp !== undefined ? claims.exp * 1000 : Date.now() + answer.expires_in * 1000
      })
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.describe() : String(err)
    }
  })())
})

byId('logout').addEventListener('click', () => end('Logged out.'))
whenExpired(() => end('Your session ended (expired or changed). Log in again.'))
window.addEventListener('hashchange', route)

attachLinkForm()
const saved = loadSession()
if (location.hash.startsWith('#view=')) {
  background(openViewLink().then((link) => { if (link !== null) begin(link) }, () => end('This view link does not work (any more): it expired or was revoked.')))
} else if (saved === 'expired') end('Your session expired. Log in again.')
else if (saved !== null) begin(saved)
else route()
