import type { Db } from 'mongodb'
import { BENCH_PRINCIPAL, type BenchContext } from '../context.js'
import { startCpuMeter } from '../cpu.js'
import { EventSequence, runMarker } from '../events.js'
import { describeFailures, latenciesOf, runLoad, steadyRate, warmUpAndSize, type LoadPlan } from '../load.js'
import type { RunningService } from '../service.js'
import { percentile } from '../stats.js'
import { BATCH_IN_FLIGHT } from './limit.js'
import type { WriteCase } from './write-case.js'
import { describeCheck } from '../results.js'

/**
 * W2: POST /events/batch of 100 and of 1000 events, with as many connections as the reference has
 * insertMany calls in flight. Latency is per request (one batch).
 */
export const W2_BATCH_SIZES = [100, 1000] as const
const MAX_REQUESTS = 20_000

export function batchCase (context: BenchContext, service: RunningService, db: Db, size: number): WriteCase {
  const { options, results, log } = context
  const label = `POST /events/batch of ${size}, ${BATCH_IN_FLIGHT} conn.`
  return {
    key: `W2.${size}`,
    workload: 'W2',
    label,
    limitKey: `insertMany-${size}`,
    run: async () => {
      const warmSequence = new EventSequence(runMarker(`w2-${size}-warm`))
      const { amount } = await warmUpAndSize(
        plan(service.url, context.token, size, warmSequence),
        options.warmupSeconds * 1000,
        options.measureSeconds * 1000,
        options.minPerConnection,
        MAX_REQUESTS,
        options.guardSeconds * 1000
      )
      const sequence = new EventSequence(runMarker(`w2-${size}`))
      const meter = startCpuMeter({ service: service.pid, database: context.database.pid })
      const run = await runLoad(plan(service.url, context.token, size, sequence), { amount, guardMs: options.guardSeconds * 1000 })
      // every item of an answered batch is created (unique event_ids, valid events); the count below checks it
      const acknowledged = (run.byStatus['200'] ?? 0) * size
      const cpu = meter.stop(acknowledged)
      const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, run.acknowledgedIds, run.maxUnanswered * size)
      const latencies = latenciesOf(run, (status) => status === 200)
      const record = {
        rate: steadyRate(run, 200, size),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        errors: run.failed,
        cpu
      }
      log(`  ${label}: ${Math.round(record.rate)} events/s, p99 ${record.p99.toFixed(1)} ms per request, ` +
        `errors ${run.failed}${describeFailures(run)} (${acknowledged} acknowledged, ${describeCheck(check)})`)
      return record
    }
  }
}

function plan (url: string, token: string, size: number, sequence: EventSequence): LoadPlan {
  return {
    url,
    token,
    connections: BATCH_IN_FLIGHT,
    requests: [{ method: 'POST', path: '/events/batch', body: () => JSON.stringify({ events: sequence.nextMany(size) }) }]
  }
}
