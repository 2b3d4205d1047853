/**
 * The access token, in sessionStorage only (never a cookie: the API reads tokens from the Authorization
 * header alone, so a cookie would add nothing but CSRF exposure). It dies with the tab.
 */
const KEY = 'audit-log-viewer.session'

export interface Session {
  token: string
  username: string
  tenant: string
  roles: string[]
  /** Epoch milliseconds, from the token's own exp claim. */
  expiresAt: number
  /** A scoped view link's fixed filter (view-links.ts): the session is that link's key. */
  scope?: { field: string, value: string }
}

/** The tab's session; 'expired' when it had one that has ended since (the page then says so). */
export function loadSession (): Session | 'expired' | null {
  const text = sessionStorage.getItem(KEY)
  if (text === null) return null
  try {
    const session = JSON.parse(text) as Session
    return session.expiresAt > Date.now() ? session : 'expired'
  } catch {
    return null
  }
}

export function saveSession (session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session))
}

export function clearSession (): void {
  sessionStorage.removeItem(KEY)
}

/** The claims the page shows (the server checks the signature; the page only reads them). */
export function readClaims (token: string): { sub?: string, exp?: number, tenant?: string, roles?: string[] } {
  const payload = token.split('.')[1] ?? ''
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='))
  return JSON.parse(json) as { sub?: string, exp?: number, tenant?: string, roles?: string[] }
}
