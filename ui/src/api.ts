/** Calls to the service's own API, with the session's token; errors carry the documented Error body. */

export class ApiError extends Error {
  constructor (
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: string | null,
    readonly requestId: string | null
  ) {
    super(message)
  }

  /** What a person reads: the message, the retry advice of a 503, the request id of a 5xx. */
  describe (): string {
    // the API's messages end without a full stop; what follows them is another sentence
    const parts = [/[.!?]$/.test(this.message) ? this.message : `${this.message}.`]
    if (this.status === 503) parts.push(this.retryAfter !== null ? `Try again in ${this.retryAfter} s.` : 'Try again shortly.')
    if (this.status >= 500 && this.requestId !== null) parts.push(`(request ${this.requestId})`)
    return parts.join(' ')
  }
}

let token: string | null = null
let onExpired: () => void = () => {}

export function useToken (value: string | null): void { token = value }
/** Called when the API answers 401 to a call made with a token: the session ended (expired, disabled, roles changed). */
export function whenExpired (handler: () => void): void { onExpired = handler }

export async function request (path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  if (token !== null) headers.set('authorization', `Bearer ${token}`)
  if (init.body !== undefined) headers.set('content-type', 'application/json')
  let response: Response
  try {
    response = await fetch(path, { ...init, headers, credentials: 'omit' })
  } catch (err) {
    // a request its page cancelled (a newer search replaced it) is not a failure to report
    if (init.signal?.aborted === true) throw err
    throw new ApiError(0, 'NETWORK', 'The service cannot be reached.', null, null)
  }
  if (response.ok) return response
  const body = await response.json().catch(() => ({})) as { code?: string, message?: string, requestId?: string }
  const error = new ApiError(
    response.status,
    body.code ?? `HTTP_${response.status}`,
    body.message ?? response.statusText,
    response.headers.get('retry-after'),
    body.requestId ?? response.headers.get('x-request-id')
  )
  if (response.status === 401 && token !== null) onExpired()
  throw error
}

export async function getJson<T> (path: string, init: RequestInit = {}): Promise<T> {
  return await (await request(path, init)).json() as T
}

export interface ApiEvent {
  id: string
  seq?: number
  hash?: string
  salt?: string
  timestamp: string
  tenant?: string
  event_type: string
  /** The personal fields are null once erased, and named in `erased`. */
  username: string | null
  entitytype: string
  ip: string | null
  location: string | null
  description: string | null
  erased?: string[]
  submitted_by?: string
  event_id?: string
  event_specificdetails?: unknown
  [field: string]: unknown
}

export interface EventPage { items: ApiEvent[], next_cursor: string | null }
export interface Histogram {
  interval: string
  timeStart: string
  timeEnd: string
  total: number
  buckets: Array<{ start: string; count: number }>
}
