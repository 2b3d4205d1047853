/** Percentiles of one run and the spread of a figure across repetitions. */

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile (samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] as number
}

/** A figure measured once per repetition: what the report shows is the median and the range. */
export interface Spread {
  median: number
  min: number
  max: number
  runs: number[]
}

export function spread (runs: readonly number[]): Spread {
  const finite = runs.filter(Number.isFinite)
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [...runs] }
  const sorted = [...finite].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, runs: [...runs] }
}

/** service / limit; NaN when either side is missing. */
export function ratio (service: Spread | undefined, limit: Spread | undefined): number {
  if (service === undefined || limit === undefined || !(limit.median > 0)) return Number.NaN
  return service.median / limit.median
}

/** The median wall time of `reps` calls of `call`, one after another, in ms. */
export async function medianTime (reps: number, call: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < reps; i++) {
    const started = performance.now()
    await call()
    times.push(performance.now() - started)
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)] as number
}
