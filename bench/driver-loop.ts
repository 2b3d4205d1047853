/**
 * The reference side's load loop: `concurrency` workers each issue the next database call as soon as
 * their previous one returns (closed loop, like autocannon's connections). Bounded in count and in time.
 */
export interface DriverLoopResult {
  elapsedMs: number
  /** Calls that returned. */
  calls: number
  /** What the calls reported doing, e.g. documents inserted. */
  units: number
  failures: number
  /** Milliseconds per call. */
  latencies: number[]
  /** True when the time bound ended a run that was bounded in count. */
  guardStopped: boolean
}

export type DriverBound = { count: number, guardMs: number } | { durationMs: number }

export async function driverLoop (concurrency: number, call: () => Promise<number>, bound: DriverBound): Promise<DriverLoopResult> {
  const started = performance.now()
  const deadline = started + ('durationMs' in bound ? bound.durationMs : bound.guardMs)
  const count = 'count' in bound ? bound.count : Number.POSITIVE_INFINITY
  let issued = 0
  let units = 0
  let failures = 0
  let lastReturn = started
  const latencies: number[] = []

  async function worker (): Promise<void> {
    while (issued < count && performance.now() < deadline) {
      issued++
      const begin = performance.now()
      try {
        // not `units += await call()`: that reads `units` before the await and loses the other workers' additions
        const done = await call()
        units += done
        latencies.push(performance.now() - begin)
      } catch {
        failures++
      }
      lastReturn = performance.now()
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => worker()))
  return {
    elapsedMs: lastReturn - started,
    calls: latencies.length,
    units,
    failures,
    latencies,
    guardStopped: 'count' in bound && issued < count
  }
}

/** Warm up for `warmupMs`, then a count that should take about `measureMs` at the warm-up's pace. */
export async function driverWarmUpAndSize (concurrency: number, call: () => Promise<number>, warmupMs: number, measureMs: number, maxCount: number): Promise<number> {
  const warmup = await driverLoop(concurrency, call, { durationMs: warmupMs })
  const perSecond = warmup.elapsedMs > 0 ? warmup.calls / (warmup.elapsedMs / 1000) : Number.NaN
  const wanted = Number.isFinite(perSecond) ? Math.round(perSecond * measureMs / 1000) : concurrency * 2
  return Math.min(maxCount, Math.max(concurrency * 2, wanted))
}
