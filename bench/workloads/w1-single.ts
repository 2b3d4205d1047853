import type { Db } from 'mongodb'
import { BENCH_PRINCIPAL, type BenchContext } from '../context.js'
import { startCpuMeter } from '../cpu.js'
import { EventSequence, runMarker } from '../events.js'
import { describeFailures, latenciesOf, runLoad, steadyRate, warmUpAndSize, type LoadPlan } from '../load.js'
import type { RunningService } from '../service.js'
import { percentile } from '../stats.js'
import type { WriteCase, WriteRun } from './write-case.js'
import { describeCheck } from '../results.js'

/**
 * W1: single-event POST /events at 50 and 200 connections, with group commit off (batch size 1: every
 * request is its own insert, as a naive service would do) and on (the default), and on without signed
 * receipts (INGEST_RECEIPTS=false), side by side with "on", for what receipts cost. During the 200-
 * connection runs the service's RSS and event-loop delay are sampled.
 */
export const W1_CONNECTIONS = [50, 200] as const
export const W1_MODES = [
  { key: 'off', label: 'group commit off', env: { GROUP_COMMIT_MAX_BATCH: '1' } },
  { key: 'on', label: 'group commit on', env: {} },
  { key: 'unsigned', label: 'group commit on, receipts off', env: { INGEST_RECEIPTS: 'false' } }
] as const
const MAX_REQUESTS = 200_000
const RSS_SAMPLE_MS = 100

export function singleEventCase (
  context: BenchContext,
  service: RunningService,
  db: Db,
  mode: (typeof W1_MODES)[number],
  connections: number
): WriteCase {
  const { options, results, log } = context
  const label = `POST /events, ${connections} conn., ${mode.label}`
  return {
    key: `W1.${mode.key}.${connections}`,
    workload: 'W1',
    label,
    limitKey: `insertOne-${connections}`,
    run: async () => {
      const idleRssMb = service.memory().rssMb
      const warmSequence = new EventSequence(runMarker(`w1-${mode.key}-${connections}-warm`))
      const { amount } = await warmUpAndSize(
        plan(service.url, context.token, connections, warmSequence),
        options.warmupSeconds * 1000,
        options.measureSeconds * 1000,
        options.minPerConnection,
        MAX_REQUESTS,
        options.guardSeconds * 1000
      )

      const sequence = new EventSequence(runMarker(`w1-${mode.key}-${connections}`))
      const watchResources = connections === 200
      if (watchResources) await service.loopDelay('reset')
      const sampler = watchResources ? service.sampleMemory(RSS_SAMPLE_MS) : undefined
      const meter = startCpuMeter({ service: service.pid, database: context.database.pid })
      const run = await runLoad(plan(service.url, context.token, connections, sequence), { amount, guardMs: options.guardSeconds * 1000 })
      const created = run.byStatus['201'] ?? 0
      const cpu = meter.stop(created)
      const rssSamples = sampler?.stop() ?? []
      const loopDelay = watchResources ? await service.loopDelay('read') : undefined

      const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, run.acknowledgedIds, run.maxUnanswered)
      const latencies = latenciesOf(run, (status) => status === 201)
      const record: WriteRun = {
        rate: steadyRate(run, 201),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        errors: run.failed,
        cpu
      }
      if (watchResources) {
        record.resources = {
          idleRssMb,
          steadyRssMb: percentile(rssSamples, 50),
          peakRssMb: Math.max(...rssSamples),
          highWaterMb: service.memory().peakMb,
          loopDelay
        }
      }
      log(
        `  ${label}: ${Math.round(record.rate)} events/s, p50 ${record.p50.toFixed(1)} ms, p99 ${record.p99.toFixed(1)} ms, ` +
          `errors ${run.failed}${describeFailures(run)} (${created} created, ${describeCheck(check)})`
      )
      return record
    }
  }
}

function plan (url: string, token: string, connections: number, sequence: EventSequence): LoadPlan {
  return { url, token, connections, requests: [{ method: 'POST', path: '/events', body: () => JSON.stringify(sequence.next()) }] }
}
