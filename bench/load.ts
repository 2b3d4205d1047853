import autocannon from 'autocannon'

/**
 * One load run against the service with autocannon (closed loop: every connection sends its next
 * request when the previous one is answered). Runs are bounded in count, so that every request sent
 * has been answered when a run ends and the events stored can be compared exactly with the 2xx
 * answers; a guard stops a run that overstays.
 */
export type LoadRequest = {
  method: 'GET' | 'POST'
  /** A function gives every request its own path (e.g. a different user to query). */
  path: string | (() => string)
  /** Called for every request: a new body (and so a new event_id) each time. */
  body?: () => string
} | {
  /** Decides each request as it is sent (e.g. a write or, one time in twenty, a read). */
  next: () => { method: 'GET' | 'POST', path: string, body?: string }
}

export interface LoadPlan {
  url: string
  token: string
  connections: number
  /** Each connection cycles through these in order. */
  requests: LoadRequest[]
}

/** Every run is counted (so that all its requests are answered when it ends), and guarded in time. */
export interface LoadBound { amount: number, guardMs: number }

export interface LoadResult {
  /** From the first request sent to the last answer received. */
  elapsedMs: number
  ok: number
  byStatus: Record<string, number>
  /** Connection errors and timeouts: requests that got no answer at all. */
  errors: number
  /** Requests without a 2xx answer: error statuses plus the unanswered ones above. */
  failed: number
  timeouts: number
  /** Milliseconds per answered request, by status code (201 single write, 200 read or batch...). */
  latencies: Map<number, number[]>
  /** When each answer of a status code arrived, ms since the start, in order. */
  answeredAt: Map<number, number[]>
  /** True when the guard ended a counted run: requests in flight then may be stored yet unanswered. */
  guardStopped: boolean
  /** Most requests that may have been in flight, unanswered, when the run ended (one per connection). */
  maxUnanswered: number
  /**
   * The ids of the events the 2xx answers say are stored (`created` or `duplicate`, single or batch item):
   * what the run must find in the database, id for id.
   */
  acknowledgedIds: Set<string>
}

/** A request answered later than this counts as a timeout; far above any latency seen here. */
const REQUEST_TIMEOUT_S = 120

export async function runLoad (plan: LoadPlan, bound: LoadBound): Promise<LoadResult> {
  const latencies = new Map<number, number[]>()
  const answeredAt = new Map<number, number[]>()
  const started = performance.now()
  let lastAnswer = started
  const amount = Math.max(bound.amount, plan.connections)
  const acknowledgedIds = new Set<string>()
  const onResponse = (status: number, body: string) => { if (status >= 200 && status < 300) collectStoredIds(body, acknowledgedIds) }

  const instance = autocannon({
    url: plan.url,
    connections: plan.connections,
    amount,
    timeout: REQUEST_TIMEOUT_S,
    headers: { authorization: `Bearer ${plan.token}`, 'content-type': 'application/json' },
    requests: plan.requests.map((request) => {
      if ('next' in request) {
        // autocannon writes Content-Length into the headers object it is given, and keeps it: a GET
        // after a POST would announce the POST's body. Each request gets headers of its own.
        return { setupRequest: (req) => ({ ...req, headers: withoutLength(req.headers), ...request.next() }), onResponse }
      }
      const { method, path, body } = request
      if (typeof path === 'string' && body === undefined) return { method, path }
      return {
        method,
        ...(method === 'POST' ? { onResponse } : {}),
        setupRequest: (req) => ({ ...req, path: typeof path === 'string' ? path : path(), ...(body === undefined ? {} : { body: body() }) })
      }
    })
  })
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    lastAnswer = performance.now()
    let list = latencies.get(statusCode)
    if (list === undefined) latencies.set(statusCode, list = [])
    list.push(responseTime)
    let times = answeredAt.get(statusCode)
    if (times === undefined) answeredAt.set(statusCode, times = [])
    times.push(lastAnswer - started)
  })

  let guardStopped = false
  const guard = setTimeout(() => { guardStopped = true; instance.stop() }, bound.guardMs)
  const result = await instance
  clearTimeout(guard)

  const byStatus: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) byStatus[code] = count
  return {
    elapsedMs: lastAnswer - started,
    ok: result['2xx'],
    byStatus,
    errors: result.errors,
    failed: result.errors + Object.entries(byStatus).filter(([code]) => !code.startsWith('2')).reduce((sum, [, count]) => sum + count, 0),
    timeouts: result.timeouts,
    latencies,
    answeredAt,
    guardStopped,
    maxUnanswered: guardStopped ? plan.connections : 0,
    acknowledgedIds
  }
}

/**
 * The stored events an answer names: POST /events answers `{ id, status }`, POST /events/batch `{ items: [{ id,
 * status }] }`; `created` and `duplicate` both say the event is in the database. A read's items carry no status.
 */
export function collectStoredIds (body: string, into: Set<string>): void {
  let answer: { id?: unknown, status?: unknown, items?: Array<{ id?: unknown, status?: unknown }> }
  try {
    answer = JSON.parse(body) as typeof answer
  } catch {
    return
  }
  const add = (item: { id?: unknown, status?: unknown }) => {
    if ((item.status === 'created' || item.status === 'duplicate') && typeof item.id === 'string') into.add(item.id)
  }
  add(answer)
  if (Array.isArray(answer.items)) for (const item of answer.items) add(item)
}

function withoutLength (headers: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'content-length'))
}

/** The share of a counted run whose pace counts: after it, connections finish their quotas and fall idle. */
export const STEADY_SHARE = 0.9

/**
 * Answers with this status per second while every connection was still busy: the first 90% of them
 * over the time they took. The last answers of a counted run come in as connections run out of
 * requests, and counting them would make a slow tail (p99 of several seconds) look like low throughput.
 */
export function steadyRate (result: LoadResult, status: number, eventsPerAnswer = 1): number {
  const times = result.answeredAt.get(status) ?? []
  const steady = Math.floor(times.length * STEADY_SHARE)
  const until = times[steady - 1]
  return steady > 0 && until !== undefined && until > 0 ? steady * eventsPerAnswer / (until / 1000) : Number.NaN
}

export function latenciesOf (result: LoadResult, predicate: (status: number) => boolean): number[] {
  return [...result.latencies].filter(([status]) => predicate(status)).flatMap(([, list]) => list)
}

/**
 * The warm-up, counted like a measured run (a warm-up cut off by time would leave requests the server
 * still works on while the measured run starts): one request per connection, then, if that was quick,
 * as many more as `warmupMs` holds at that pace. Its pace sizes the measured run to about `measureMs`:
 * at least `minPerConnection` requests per connection (so that its pace is more than its first
 * latency), at most `maxAmount`.
 */
export async function warmUpAndSize (
  plan: LoadPlan,
  warmupMs: number,
  measureMs: number,
  minPerConnection: number,
  maxAmount: number,
  guardMs: number
): Promise<{ amount: number }> {
  const probe = await runLoad(plan, { amount: plan.connections, guardMs })
  let perSecond = probe.elapsedMs > 0 ? probe.ok / (probe.elapsedMs / 1000) : Number.NaN
  const more = Math.min(maxAmount, Math.round((perSecond * (warmupMs - probe.elapsedMs)) / 1000))
  if (more > plan.connections) {
    const warmup = await runLoad(plan, { amount: more, guardMs })
    if (warmup.elapsedMs > 0) perSecond = warmup.ok / (warmup.elapsedMs / 1000)
  }
  const wanted = Number.isFinite(perSecond) ? Math.round((perSecond * measureMs) / 1000) : 0
  return { amount: Math.min(maxAmount, Math.max(plan.connections * minPerConnection, wanted)) }
}

/** ` [503×12, timeout×1]`: what the failed requests got, for the log. */
export function describeFailures (result: LoadResult): string {
  const parts = Object.entries(result.byStatus).filter(([code]) => !code.startsWith('2')).map(([code, count]) => `${code}×${count}`)
  if (result.timeouts > 0) parts.push(`timeout×${result.timeouts}`)
  if (result.errors > result.timeouts) parts.push(`connection error×${result.errors - result.timeouts}`)
  return parts.length === 0 ? '' : ` [${parts.join(', ')}]`
}
