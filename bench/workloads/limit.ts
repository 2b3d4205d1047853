import type { Collection, Db } from 'mongodb'
import { toStoredEvent, type StoredEvent } from '../../src/plugins/app/events/record.js'
import { BENCH_PRINCIPAL, type BenchContext } from '../context.js'
import { startCpuMeter } from '../cpu.js'
import { driverLoop, driverWarmUpAndSize, steadyUnitRate } from '../driver-loop.js'
import { EventSequence, runMarker } from '../events.js'
import { percentile } from '../stats.js'
import type { WriteCase } from './write-case.js'
import { describeCheck } from '../results.js'

/**
 * The limit: the same documents the service would store, with the same write concern and indexes,
 * written straight through the MongoDB driver to the same server. Nothing the service does can be
 * faster than this; every service figure is reported as a fraction of it.
 */
export interface LimitSpec {
  key: 'insertOne-50' | 'insertOne-200' | 'insertMany-100' | 'insertMany-1000'
  label: string
  /** Documents per call. */
  batch: number
  /** Calls in flight. */
  inFlight: number
}

/** Batches are written with as many calls in flight as W2 uses connections. */
export const BATCH_IN_FLIGHT = 4

export const LIMITS: Record<LimitSpec['key'], LimitSpec> = {
  'insertOne-50': { key: 'insertOne-50', label: 'driver insertOne, 50 in flight', batch: 1, inFlight: 50 },
  'insertOne-200': { key: 'insertOne-200', label: 'driver insertOne, 200 in flight', batch: 1, inFlight: 200 },
  'insertMany-100': {
    key: 'insertMany-100',
    label: `driver insertMany of 100, ${BATCH_IN_FLIGHT} in flight`,
    batch: 100,
    inFlight: BATCH_IN_FLIGHT
  },
  'insertMany-1000': {
    key: 'insertMany-1000',
    label: `driver insertMany of 1000, ${BATCH_IN_FLIGHT} in flight`,
    batch: 1000,
    inFlight: BATCH_IN_FLIGHT
  }
}

const MAX_CALLS = 200_000

export function limitCase (context: BenchContext, db: Db, spec: LimitSpec): WriteCase {
  const { options, results, log } = context
  const collection = db.collection<StoredEvent>('events')
  return {
    key: spec.key,
    workload: 'limit',
    label: spec.label,
    run: async () => {
      const warmupCall = writer(collection, spec, new EventSequence(runMarker(`limit-warm-${spec.key}`)))
      const count = await driverWarmUpAndSize(
        spec.inFlight,
        warmupCall,
        options.warmupSeconds * 1000,
        options.measureSeconds * 1000,
        options.minPerConnection,
        MAX_CALLS
      )
      const sequence = new EventSequence(runMarker(`limit-${spec.key}`))
      const meter = startCpuMeter({ database: context.database.pid })
      const run = await driverLoop(spec.inFlight, writer(collection, spec, sequence), { count, guardMs: options.guardSeconds * 1000 })
      const cpu = meter.stop(run.units)
      const check = await results.checkStored(
        db,
        BENCH_PRINCIPAL.tenant,
        sequence.marker,
        run.units,
        run.guardStopped ? spec.inFlight * spec.batch : 0
      )
      const record = {
        rate: steadyUnitRate(run),
        p50: percentile(run.latencies, 50),
        p99: percentile(run.latencies, 99),
        errors: run.failures,
        cpu
      }
      log(`  ${spec.label}: ${Math.round(record.rate)} events/s, p99 ${record.p99.toFixed(1)} ms per call, ` +
        `failures ${run.failures} (${run.units} events, ${describeCheck(check)})`)
      return record
    }
  }
}

function writer (collection: Collection<StoredEvent>, spec: LimitSpec, sequence: EventSequence): () => Promise<number> {
  if (spec.batch === 1) {
    return async () => {
      await collection.insertOne(toStoredEvent(sequence.next(), BENCH_PRINCIPAL, new Date()))
      return 1
    }
  }
  return async () => {
    const receivedAt = new Date()
    const docs = sequence.nextMany(spec.batch).map((event) => toStoredEvent(event, BENCH_PRINCIPAL, receivedAt))
    await collection.insertMany(docs, { ordered: false })
    return docs.length
  }
}
