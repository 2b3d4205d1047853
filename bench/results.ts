import type { Db } from 'mongodb'
import { countRunEvents, runEventIds } from './database.js'
import { spread, type Spread } from './stats.js'
import type { CpuPerEvent } from './cpu.js'

/** Everything a run measured: the report is written from this, and the JSON file is this. */
export interface Figure {
  /** Stable key the targets refer to, e.g. `W1.on.200.rate`. */
  id: string
  workload: string
  /** The case within the workload, e.g. `POST /events, 200 conn., group commit on`. */
  case: string
  metric: 'events/s' | 'p50 ms' | 'p99 ms' | 'errors' | 'items' | 'MB' | 'cpu ms/event'
  service: Spread
  /** The same figure for the reference (plain driver), when there is one. */
  limit?: { label: string, value: Spread }
}

export interface ResourceFigures {
  case: string
  idleRssMb: Spread
  steadyRssMb: Spread
  peakRssMb: Spread
  /** VmHWM: the highest RSS since the process started. */
  highWaterMb: Spread
  loopDelay: { p50: Spread, p99: Spread, max: Spread }
}

/** The reference harness's figures for one case: events/s, and latency per driver call. */
export interface LimitFigures {
  label: string
  rate: Spread
  p50: Spread
  p99: Spread
}

/** CPU milliseconds per event of each process, median over the repetitions of one case. */
export interface CpuFigures {
  case: string
  service?: Spread
  database?: Spread
  client: Spread
}

/** One "events stored = 2xx answers" check. */
export interface IntegrityCheck {
  run: string
  acknowledged: number
  stored: number
  /** Acknowledged events not in the database (when their ids are known): must be 0. */
  missing?: number
  /** Events in the database no answer acknowledged (when ids are known): at most `tolerance`. */
  unacknowledged?: number
  /** Requests possibly in flight and unanswered when the run ended (0 for a run that ended by count). */
  tolerance: number
  ok: boolean
}

/** One consumer's events of a delivery run (W7) checked against the log: each once, in seq order. */
export interface DeliveryCheck {
  run: string
  consumer: string
  /** Events of the tenant in the log up to the last seq the run stored. */
  expected: number
  received: number
  missing: number
  repeated: number
  outOfOrder: number
  /** Seqs received that the log does not hold. */
  unexpected: number
  /** Webhook deliveries whose signature did not verify under the subscription's secret. */
  badSignatures: number
  ok: boolean
}

/** `stored 150`, or what differs: `stored 149 MISMATCH (1 acknowledged missing, 0 not acknowledged)`. */
export function describeCheck (check: IntegrityCheck): string {
  if (check.ok) return `stored ${check.stored}`
  const detail = check.missing === undefined ? '' : ` (${check.missing} acknowledged missing, ${check.unacknowledged ?? 0} not acknowledged)`
  return `stored ${check.stored} MISMATCH${detail}`
}

export class Results {
  readonly figures: Figure[] = []
  readonly resources: ResourceFigures[] = []
  readonly checks: IntegrityCheck[] = []
  readonly deliveries: DeliveryCheck[] = []
  readonly notes: string[] = []
  readonly limits: Record<string, LimitFigures> = {}
  readonly cpu: CpuFigures[] = []

  addCpu (caseLabel: string, runs: CpuPerEvent[]): void {
    if (runs.length === 0) return
    const of = (pick: (run: CpuPerEvent) => number | undefined) => {
      const values = runs.map(pick).filter((v): v is number => v !== undefined)
      return values.length === 0 ? undefined : spread(values)
    }
    this.cpu.push({
      case: caseLabel,
      service: of((r) => r.service),
      database: of((r) => r.database),
      client: spread(runs.map((r) => r.client))
    })
  }

  add (figure: Figure): void {
    this.figures.push(figure)
  }

  find (id: string): Figure | undefined {
    return this.figures.find((figure) => figure.id === id)
  }

  /**
   * Compares the run's events in the database with the acknowledged ones. Given their ids, id for id: every
   * acknowledged event must be stored, and nothing else but what `tolerance` allows. A run that ended by count
   * has every request answered, so the two must be equal; one stopped by its guard may have stored up to
   * `tolerance` events it never answered.
   */
  async checkStored (
    db: Db,
    tenant: string,
    marker: string,
    acknowledged: number | ReadonlySet<string>,
    tolerance: number
  ): Promise<IntegrityCheck> {
    // requests a guard cut off may still be written by the server: give them a moment
    if (tolerance > 0) await new Promise((resolve) => setTimeout(resolve, 2000))
    let check: IntegrityCheck
    if (typeof acknowledged === 'number') {
      const stored = await countRunEvents(db, tenant, marker)
      check = { run: marker, acknowledged, stored, tolerance, ok: stored >= acknowledged && stored <= acknowledged + tolerance }
    } else {
      const stored = await runEventIds(db, tenant, marker)
      const missing = [...acknowledged].filter((id) => !stored.has(id)).length
      const unacknowledged = [...stored].filter((id) => !acknowledged.has(id)).length
      check = {
        run: marker,
        acknowledged: acknowledged.size,
        stored: stored.size,
        missing,
        unacknowledged,
        tolerance,
        ok: missing === 0 && unacknowledged <= tolerance
      }
    }
    this.checks.push(check)
    return check
  }
}
