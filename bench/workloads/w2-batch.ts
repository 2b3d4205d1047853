import { BENCH_PRINCIPAL, openService, type BenchContext } from '../context.js'
import { EventSequence, runMarker } from '../events.js'
import { latenciesOf, runLoad, steadyRate, warmUpAndSize, type LoadPlan } from '../load.js'
import { percentile } from '../stats.js'
import { startCpuMeter, type CpuPerEvent } from '../cpu.js'
import { BATCH_IN_FLIGHT } from './limit.js'
import { eventFigures } from './figures.js'

/**
 * W2: POST /events/batch of 100 and of 1000 events, with as many connections as the reference has
 * insertMany calls in flight. Latency is per request (one batch).
 */
const BATCH_SIZES = [100, 1000] as const
const MAX_REQUESTS = 20_000

export async function runBatches (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  const { service, db } = await openService(context, 'w2')
  try {
    for (const size of BATCH_SIZES) {
      const caseLabel = `POST /events/batch of ${size}, ${BATCH_IN_FLIGHT} conn.`
      const rates: number[] = []
      const p50s: number[] = []
      const p99s: number[] = []
      const errors: number[] = []
      const cpu: CpuPerEvent[] = []
      for (let rep = 0; rep < options.repetitions; rep++) {
        const warmSequence = new EventSequence(runMarker(`w2-${size}-warm`))
        const { amount } = await warmUpAndSize(plan(service.url, context.token, size, warmSequence), options.warmupSeconds * 1000, options.measureSeconds * 1000, MAX_REQUESTS)
        const sequence = new EventSequence(runMarker(`w2-${size}`))
        const meter = startCpuMeter({ service: service.pid, database: context.database.pid })
        const run = await runLoad(plan(service.url, context.token, size, sequence), { amount, guardMs: options.guardSeconds * 1000 })
        // every item of an answered batch is created: event_ids are unique and the events valid
        const acknowledged = (run.byStatus['200'] ?? 0) * size
        cpu.push(meter.stop(acknowledged))
        const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, acknowledged, run.maxUnanswered * size)
        rates.push(steadyRate(run, 200, size))
        const latencies = latenciesOf(run, (status) => status === 200)
        p50s.push(percentile(latencies, 50))
        p99s.push(percentile(latencies, 99))
        errors.push(run.failed)
        log(`  ${caseLabel}: ${Math.round(rates[rep] as number)} events/s, p99 ${(p99s[rep] as number).toFixed(1)} ms per request, ` +
          `errors ${run.failed} (${acknowledged} acknowledged, stored ${check.stored}${check.ok ? '' : ' MISMATCH'})`)
      }
      results.addCpu(caseLabel, cpu)
      eventFigures(results, { idPrefix: `W2.${size}`, workload: 'W2', caseLabel, rates, p50s, p99s, errors, limitKey: `insertMany-${size}` })
    }
  } finally {
    await service.stop()
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
