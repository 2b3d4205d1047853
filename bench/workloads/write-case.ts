import type { CpuPerEvent } from '../cpu.js'
import type { LoopDelayStats } from '../loop-delay.js'
import type { Results } from '../results.js'
import { spread } from '../stats.js'

/**
 * One measured write run (warm-up, counted run, events-stored check) of a service workload or of the
 * reference harness. The write suite runs every case once per repetition, interleaved, so that a case
 * and the limit it is compared with see the same background load on this shared machine.
 */
export interface WriteRun {
  /** Events per second while every connection was busy. */
  rate: number
  /** Per request (service) or per driver call (limit). */
  p50: number
  p99: number
  /** Requests without a 2xx answer, or failed driver calls. */
  errors: number
  cpu: CpuPerEvent
  /**
   * RSS before the run, its median and highest sample during the run (every 100 ms), and the process's
   * high-water mark since it started (VmHWM: includes start-up, when tsx compiles the sources).
   */
  resources?: { idleRssMb: number, steadyRssMb: number, peakRssMb: number, highWaterMb: number, loopDelay?: LoopDelayStats }
}

export interface WriteCase {
  /** Figure id prefix, e.g. `W1.on.200`, or the limit key, e.g. `insertOne-50`. */
  key: string
  workload: 'limit' | 'W1' | 'W2'
  label: string
  /** For a service case: the limit key its events/s and latencies are compared with. */
  limitKey?: string
  /** For a service case: the `--baseline` case it is also compared with. */
  baselineKey?: string
  run: () => Promise<WriteRun>
}

/** The same case run against the `--baseline` build: recorded as a limit of its own, for the ratio. */
export function asBaseline (writeCase: WriteCase): WriteCase {
  return { ...writeCase, key: baselineKeyOf(writeCase.key), workload: 'limit', label: `baseline: ${writeCase.label}`, limitKey: undefined }
}

export function baselineKeyOf (key: string): string {
  return `baseline:${key}`
}

/** Records one case's runs: the limit table, or the service figures beside their limit. */
export function recordCase (results: Results, writeCase: WriteCase, runs: WriteRun[]): void {
  const pick = (f: (run: WriteRun) => number) => spread(runs.map(f))
  results.addCpu(writeCase.label, runs.map((run) => run.cpu))
  if (writeCase.workload === 'limit') {
    results.limits[writeCase.key] = { label: writeCase.label, rate: pick((r) => r.rate), p50: pick((r) => r.p50), p99: pick((r) => r.p99) }
    return
  }
  const limit = writeCase.limitKey === undefined ? undefined : results.limits[writeCase.limitKey]
  const base = { workload: writeCase.workload, case: writeCase.label }
  results.add({
    ...base,
    id: `${writeCase.key}.rate`,
    metric: 'events/s',
    service: pick((r) => r.rate),
    limit: limit && { label: limit.label, value: limit.rate }
  })
  results.add({
    ...base,
    id: `${writeCase.key}.p50`,
    metric: 'p50 ms',
    service: pick((r) => r.p50),
    limit: limit && { label: limit.label, value: limit.p50 }
  })
  results.add({
    ...base,
    id: `${writeCase.key}.p99`,
    metric: 'p99 ms',
    service: pick((r) => r.p99),
    limit: limit && { label: limit.label, value: limit.p99 }
  })
  results.add({ ...base, id: `${writeCase.key}.errors`, metric: 'errors', service: pick((r) => r.errors) })
  const baseline = writeCase.baselineKey === undefined ? undefined : results.limits[writeCase.baselineKey]
  if (baseline !== undefined) {
    results.add({
      ...base,
      id: `${writeCase.key}.vs-baseline.rate`,
      metric: 'events/s',
      service: pick((r) => r.rate),
      limit: { label: baseline.label, value: baseline.rate }
    })
  }
  const watched = runs.flatMap((run) => run.resources === undefined ? [] : [run.resources])
  if (watched.length > 0) {
    const delays = watched.flatMap((r) => r.loopDelay === undefined ? [] : [r.loopDelay])
    results.resources.push({
      case: writeCase.label,
      idleRssMb: spread(watched.map((r) => r.idleRssMb)),
      steadyRssMb: spread(watched.map((r) => r.steadyRssMb)),
      peakRssMb: spread(watched.map((r) => r.peakRssMb)),
      highWaterMb: spread(watched.map((r) => r.highWaterMb)),
      loopDelay: { p50: spread(delays.map((d) => d.p50)), p99: spread(delays.map((d) => d.p99)), max: spread(delays.map((d) => d.max)) }
    })
  }
}
