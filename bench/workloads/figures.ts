import type { Results } from '../results.js'
import { spread } from '../stats.js'

/** The four figures of a write workload, each beside the matching reference case. */
export function eventFigures (results: Results, figures: {
  idPrefix: string
  workload: string
  caseLabel: string
  rates: number[]
  p50s: number[]
  p99s: number[]
  errors: number[]
  /** Which reference case the events/s and latencies are compared with. */
  limitKey: string
  /** Compare events/s with this reference case instead (e.g. insertMany-100 for a group commit). */
  rateLimitKey?: string
}): void {
  const { idPrefix, workload, caseLabel } = figures
  const limit = results.limits[figures.limitKey]
  const rateLimit = results.limits[figures.rateLimitKey ?? figures.limitKey]
  results.add({ id: `${idPrefix}.rate`, workload, case: caseLabel, metric: 'events/s', service: spread(figures.rates), limit: rateLimit && { label: rateLimit.label, value: rateLimit.rate } })
  results.add({ id: `${idPrefix}.p50`, workload, case: caseLabel, metric: 'p50 ms', service: spread(figures.p50s), limit: limit && { label: limit.label, value: limit.p50 } })
  results.add({ id: `${idPrefix}.p99`, workload, case: caseLabel, metric: 'p99 ms', service: spread(figures.p99s), limit: limit && { label: limit.label, value: limit.p99 } })
  results.add({ id: `${idPrefix}.errors`, workload, case: caseLabel, metric: 'errors', service: spread(figures.errors) })
}
