import type { Collection } from 'mongodb'
import type { StoredEvent } from '../../src/plugins/app/event-store.js'
import { toStoredEvent } from '../../src/events/mapping.js'
import { BENCH_PRINCIPAL, type BenchContext } from '../context.js'
import { prepareDatabase } from '../database.js'
import { driverLoop, driverWarmUpAndSize, steadyUnitRate } from '../driver-loop.js'
import { startCpuMeter, type CpuPerEvent } from '../cpu.js'
import { EventSequence, runMarker } from '../events.js'
import { percentile, spread } from '../stats.js'

/**
 * The limit: the same documents the service would store, with the same write concern and indexes,
 * written straight through the MongoDB driver to the same server. Nothing the service does can be
 * faster than this; every service figure is reported as a fraction of it.
 */
export interface LimitCase {
  key: 'insertOne-50' | 'insertOne-200' | 'insertMany-100' | 'insertMany-1000'
  label: string
  /** Documents per call. */
  batch: number
  /** Calls in flight. */
  inFlight: number
}

/** Batches are written with as many calls in flight as W2 uses connections. */
export const BATCH_IN_FLIGHT = 4

export const LIMIT_CASES: LimitCase[] = [
  { key: 'insertOne-50', label: 'driver insertOne, 50 in flight', batch: 1, inFlight: 50 },
  { key: 'insertOne-200', label: 'driver insertOne, 200 in flight', batch: 1, inFlight: 200 },
  { key: 'insertMany-100', label: `driver insertMany of 100, ${BATCH_IN_FLIGHT} in flight`, batch: 100, inFlight: BATCH_IN_FLIGHT },
  { key: 'insertMany-1000', label: `driver insertMany of 1000, ${BATCH_IN_FLIGHT} in flight`, batch: 1000, inFlight: BATCH_IN_FLIGHT }
]

const MAX_CALLS = 200_000

export async function runLimit (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  const db = await prepareDatabase(context.database.client, 'limit')
  const collection = db.collection<StoredEvent>('events')

  for (const limitCase of LIMIT_CASES) {
    const rates: number[] = []
    const p50s: number[] = []
    const p99s: number[] = []
    const cpu: CpuPerEvent[] = []
    for (let rep = 0; rep < options.repetitions; rep++) {
      const warmupCall = writer(collection, limitCase, new EventSequence(runMarker(`limit-warm-${limitCase.key}`)))
      const count = await driverWarmUpAndSize(limitCase.inFlight, warmupCall, options.warmupSeconds * 1000, options.measureSeconds * 1000, MAX_CALLS)
      const sequence = new EventSequence(runMarker(`limit-${limitCase.key}`))
      const meter = startCpuMeter({ database: context.database.pid })
      const run = await driverLoop(limitCase.inFlight, writer(collection, limitCase, sequence), { count, guardMs: options.guardSeconds * 1000 })
      cpu.push(meter.stop(run.units))
      const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, run.units, run.guardStopped ? limitCase.inFlight * limitCase.batch : 0)
      if (run.failures > 0) results.notes.push(`${limitCase.label}: ${run.failures} calls failed`)
      rates.push(steadyUnitRate(run))
      p50s.push(percentile(run.latencies, 50))
      p99s.push(percentile(run.latencies, 99))
      log(`  ${limitCase.label}: ${Math.round(rates[rep] as number)} events/s, p99 ${(p99s[rep] as number).toFixed(1)} ms per call (${run.units} events, stored ${check.stored})`)
    }
    results.addCpu(limitCase.label, cpu)
    results.limits[limitCase.key] = { label: limitCase.label, rate: spread(rates), p50: spread(p50s), p99: spread(p99s) }
  }
}

function writer (collection: Collection<StoredEvent>, limitCase: LimitCase, sequence: EventSequence): () => Promise<number> {
  if (limitCase.batch === 1) {
    return async () => {
      await collection.insertOne(toStoredEvent(sequence.next(), BENCH_PRINCIPAL, new Date()))
      return 1
    }
  }
  return async () => {
    const receivedAt = new Date()
    const docs = sequence.nextMany(limitCase.batch).map((event) => toStoredEvent(event, BENCH_PRINCIPAL, receivedAt))
    await collection.insertMany(docs, { ordered: false })
    return docs.length
  }
}
