import autocannon from 'autocannon'

/**
 * One load run against the service with autocannon (closed loop: every connection sends its next
 * request when the previous one is answered). A warm-up is bounded in time; a measured run is bounded
 * in count, so that every request it sent has been answered when it ends and the events stored can be
 * compared exactly with the 2xx answers. A guard stops a counted run that overstays.
 */
export interface LoadRequest {
  method: 'GET' | 'POST'
  /** A function gives every request its own path (e.g. a different user to query). */
  path: string | (() => string)
  /** Called for every request: a new body (and so a new event_id) each time. */
  body?: () => string
}

export interface LoadPlan {
  url: string
  token: string
  connections: number
  /** Each connection cycles through these in order (e.g. 19 writes then 1 read). */
  requests: LoadRequest[]
}

export type LoadBound = { amount: number, guardMs: number } | { durationMs: number }

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
}

/** A request answered later than this counts as a timeout; far above any latency seen here. */
const REQUEST_TIMEOUT_S = 120

export async function runLoad (plan: LoadPlan, bound: LoadBound): Promise<LoadResult> {
  const latencies = new Map<number, number[]>()
  const answeredAt = new Map<number, number[]>()
  const started = performance.now()
  let lastAnswer = started
  const amount = 'amount' in bound ? Math.max(bound.amount, plan.connections) : undefined

  const instance = autocannon({
    url: plan.url,
    connections: plan.connections,
    ...(amount !== undefined ? { amount } : { duration: (bound as { durationMs: number }).durationMs / 1000 }),
    timeout: REQUEST_TIMEOUT_S,
    headers: { authorization: `Bearer ${plan.token}`, 'content-type': 'application/json' },
    requests: plan.requests.map(({ method, path, body }) => {
      if (typeof path === 'string' && body === undefined) return { method, path }
      return {
        method,
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
  const guard = 'guardMs' in bound
    ? setTimeout(() => { guardStopped = true; instance.stop() }, bound.guardMs)
    : undefined
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
    maxUnanswered: guardStopped || amount === undefined ? plan.connections : 0
  }
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

/** Fewest requests per connection in a measured run, so that its pace is not just its first latency. */
export const MIN_REQUESTS_PER_CONNECTION = 5

/**
 * Warm up for `warmupMs` (longer, up to three times, until every connection has had an answer on
 * average), then size the measured run from the warm-up's pace so that it lasts about `measureMs`:
 * at least MIN_REQUESTS_PER_CONNECTION per connection, at most `maxAmount`.
 */
export async function warmUpAndSize (plan: LoadPlan, warmupMs: number, measureMs: number, maxAmount: number): Promise<{ amount: number }> {
  let answered = 0
  let elapsedMs = 0
  for (let round = 0; round < 3 && answered < plan.connections; round++) {
    const warmup = await runLoad(plan, { durationMs: warmupMs })
    answered += warmup.ok
    elapsedMs += warmup.elapsedMs
  }
  const perSecond = elapsedMs > 0 ? answered / (elapsedMs / 1000) : Number.NaN
  const wanted = Number.isFinite(perSecond) ? Math.round(perSecond * measureMs / 1000) : 0
  return { amount: Math.min(maxAmount, Math.max(plan.connections * MIN_REQUESTS_PER_CONNECTION, wanted)) }
}
