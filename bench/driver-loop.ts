import { STEADY_SHARE } from './load.js'

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
  /** What the first failed call threw, to say why. */
  firstFailure?: unknown
  /** Milliseconds per call. */
  latencies: number[]
  /** When each call returned (ms since the start) and the units it reported, in order. */
  returns: Array<{ at: number, units: number }>
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
  let firstFailure: unknown
  let lastReturn = started
  const latencies: number[] = []
  const returns: Array<{ at: number, units: number }> = []

  async function worker (): Promise<void> {
    while (issued < count && performance.now() < deadline) {
      issued++
      const begin = performance.now()
      try {
        // not `units += await call()`: that reads `units` before the await and loses the other workers' additions
        const done = await call()
        units += done
        const now = performance.now()
        latencies.push(now - begin)
        returns.push({ at: now - started, units: done })
      } catch (err) {
        if (failures === 0) firstFailure = err
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
    firstFailure,
    latencies,
    returns,
    guardStopped: 'count' in bound && issued < count
  }
}

/** Units per second while every worker was busy: as steadyRate in load.ts, the first 90% of the calls. */
export function steadyUnitRate (result: DriverLoopResult): number {
  const steady = Math.floor(result.returns.length * STEADY_SHARE)
  const until = result.returns[steady - 1]?.at
  const units = result.returns.slice(0, steady).reduce((sum, r) => sum + r.units, 0)
  return steady > 0 && until !== undefined && until > 0 ? units / (until / 1000) : Number.NaN
}

/** Warm up as warmUpAndSize in load.ts does, then a count that should take about `measureMs`. */
export async function driverWarmUpAndSize (
  concurrency: number,
  call: () => Promise<number>,
  warmupMs: number,
  measureMs: number,
  minPerWorker: number,
  maxCount: number
): Promise<number> {
  let calls = 0
  let elapsedMs = 0
  for (let round = 0; round < 3 && calls < concurrency; round++) {
    const warmup = await driverLoop(concurrency, call, { durationMs: warmupMs })
    calls += warmup.calls
    elapsedMs += warmup.elapsedMs
  }
  const perSecond = elapsedMs > 0 ? calls / (elapsedMs / 1000) : Number.NaN
  const wanted = Number.isFinite(perSecond) ? Math.round((perSecond * measureMs) / 1000) : 0
  return Math.min(maxCount, Math.max(concurrency * minPerWorker, wanted))
}
