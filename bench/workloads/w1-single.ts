import { BENCH_PRINCIPAL, openService, type BenchContext } from '../context.js'
import { EventSequence, runMarker } from '../events.js'
import { latenciesOf, runLoad, steadyRate, warmUpAndSize, type LoadPlan } from '../load.js'
import type { LoopDelayStats } from '../loop-delay.js'
import { percentile, spread } from '../stats.js'
import { startCpuMeter, type CpuPerEvent } from '../cpu.js'
import { eventFigures } from './figures.js'

/**
 * W1: single-event POST /events at 50 and 200 connections, with group commit off (batch size 1: every
 * request is its own insert, as a naive service would do) and on (the default). During every 200-
 * connection run the service's RSS and event-loop delay are sampled.
 */
const CONNECTIONS = [50, 200] as const
const MODES = [
  { key: 'off', label: 'group commit off', env: { GROUP_COMMIT_MAX_BATCH: '1' } },
  { key: 'on', label: 'group commit on', env: {} }
] as const
const MAX_REQUESTS = 200_000
const RSS_SAMPLE_MS = 100

export async function runSingleEvents (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  for (const mode of MODES) {
    const { service, db } = await openService(context, `w1_${mode.key}`, { ...mode.env })
    try {
      for (const connections of CONNECTIONS) {
        const caseLabel = `POST /events, ${connections} conn., ${mode.label}`
        const rates: number[] = []
        const p50s: number[] = []
        const p99s: number[] = []
        const errors: number[] = []
        const memory = { idle: [] as number[], steady: [] as number[], peak: [] as number[] }
        const delays: LoopDelayStats[] = []
        const cpu: CpuPerEvent[] = []
        for (let rep = 0; rep < options.repetitions; rep++) {
          const idleRss = service.memory().rssMb
          const warmSequence = new EventSequence(runMarker(`w1-${mode.key}-${connections}-warm`))
          const { amount } = await warmUpAndSize(plan(service.url, context.token, connections, warmSequence), options.warmupSeconds * 1000, options.measureSeconds * 1000, MAX_REQUESTS)

          const sequence = new EventSequence(runMarker(`w1-${mode.key}-${connections}`))
          const watchResources = connections === 200
          await service.loopDelay('reset')
          const sampler = watchResources ? service.sampleMemory(RSS_SAMPLE_MS) : undefined
          const meter = startCpuMeter({ service: service.pid, database: context.database.pid })
          const run = await runLoad(plan(service.url, context.token, connections, sequence), { amount, guardMs: options.guardSeconds * 1000 })
          const rssSamples = sampler?.stop() ?? []
          const delay = watchResources ? await service.loopDelay('read') : undefined

          const created = run.byStatus['201'] ?? 0
          cpu.push(meter.stop(created))
          const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, created, run.maxUnanswered)
          rates.push(steadyRate(run, 201))
          const latencies = latenciesOf(run, (status) => status === 201)
          p50s.push(percentile(latencies, 50))
          p99s.push(percentile(latencies, 99))
          errors.push(run.failed)
          if (watchResources) {
            memory.idle.push(idleRss)
            memory.steady.push(percentile(rssSamples, 50))
            memory.peak.push(Math.max(...rssSamples, service.memory().peakMb))
            if (delay !== undefined) delays.push(delay)
          }
          log(`  ${caseLabel}: ${Math.round(rates[rep] as number)} events/s, p50 ${(p50s[rep] as number).toFixed(1)} ms, p99 ${(p99s[rep] as number).toFixed(1)} ms, ` +
            `errors ${errors[rep] as number} (${created} created, stored ${check.stored}${check.ok ? '' : ' MISMATCH'})`)
        }
        results.addCpu(caseLabel, cpu)
        const idPrefix = `W1.${mode.key}.${connections}`
        eventFigures(results, { idPrefix, workload: 'W1', caseLabel, rates, p50s, p99s, errors, limitKey: `insertOne-${connections}` })
        if (memory.peak.length > 0) {
          results.resources.push({
            case: caseLabel,
            idleRssMb: spread(memory.idle),
            steadyRssMb: spread(memory.steady),
            peakRssMb: spread(memory.peak),
            loopDelay: { p50: spread(delays.map((d) => d.p50)), p99: spread(delays.map((d) => d.p99)), max: spread(delays.map((d) => d.max)) }
          })
        }
      }
    } finally {
      await service.stop()
    }
  }
}

function plan (url: string, token: string, connections: number, sequence: EventSequence): LoadPlan {
  return { url, token, connections, requests: [{ method: 'POST', path: '/events', body: () => JSON.stringify(sequence.next()) }] }
}
