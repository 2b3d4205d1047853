import type { Db } from 'mongodb'
import { EventStore } from '../../src/plugins/app/events/event-store.js'
import { EventWriter } from '../../src/plugins/app/events/event-writer.js'
import { toStoredEvent, type StoredEvent } from '../../src/plugins/app/events/record.js'
import { Sequencer } from '../../src/plugins/app/events/sequencer.js'
import { BENCH_PRINCIPAL, openService, type BenchContext } from '../context.js'
import { driverLoop } from '../driver-loop.js'
import { sampleEvent } from '../events.js'
import type { RunningService } from '../service.js'

/**
 * The data W4 and W5 read: `size` events of the bench tenant in a database of their own, spread evenly over
 * ten days and a hundred usernames (so a username's 24 hours hold size/1000 events), read by the service
 * started on it with a query time limit long enough for any scan here.
 *
 * They are written through the service's own write path (EventWriter and Sequencer, in this process, as a
 * second replica would), not inserted raw: the events collection has a unique (tenant, seq) index, and
 * the reads the service audits are events of the same tenant that claim seqs after the dataset's. Raw
 * inserts (all seq 0) collided on it and stored nothing.
 */
export interface ReadDataset {
  db: Db
  service: RunningService
  /** The same store the service queries through, on the same collection: the reference side. */
  store: EventStore
  size: number
  /** Timestamps run from `start` (inclusive) to `start + DATASET_SPAN_MS`. */
  start: Date
}

export const DATASET_SPAN_MS = 10 * 86400_000
/** Generous: on FerretDB a query scans the whole collection, and W4/W5 time that rather than time out. */
export const READ_QUERY_MAX_TIME_MS = 3_600_000
const LOAD_BATCH = 1000
const LOAD_IN_FLIGHT = 2

export async function openReadDataset (context: BenchContext): Promise<ReadDataset> {
  const { options, log } = context
  const size = options.readDatasetSize
  // W4/W5 time queries against the driver's: the read admission control is lifted so that none is refused
  const { service, db } = await openService(context, 'reads', {
    QUERY_MAX_TIME_MS: String(READ_QUERY_MAX_TIME_MS),
    QUERY_MAX_CONCURRENT: '1000',
    QUERY_MAX_CONCURRENT_PER_TENANT: '1000'
  })
  try {
    const collection = db.collection<StoredEvent>('events')
    const store = new EventStore(collection, READ_QUERY_MAX_TIME_MS)
    // folds and stale claims are the service's business: this replica only claims and settles
    const sequencer = new Sequencer(db, collection, { foldIntervalMs: 3600_000, staleAfterMs: 3600_000 })
    const writer = new EventWriter(store, sequencer, { maxBatch: LOAD_BATCH, maxWaitMs: 2, limit: LOAD_BATCH * LOAD_IN_FLIGHT })
    const start = new Date(Date.now() - DATASET_SPAN_MS - 86400_000)
    log(`loading ${size} events for W4/W5`)
    let next = 0
    let firstError: string | undefined
    const began = performance.now()
    const load = await driverLoop(LOAD_IN_FLIGHT, async () => {
      const first = next
      next = Math.min(size, next + LOAD_BATCH)
      const docs: StoredEvent[] = []
      for (let i = first; i < next; i++) {
        docs.push(
          toStoredEvent(sampleEvent('seed', i), BENCH_PRINCIPAL, new Date(start.getTime() + Math.floor((i * DATASET_SPAN_MS) / size)))
        )
      }
      if (docs.length === 0) return 0
      const outcomes = await writer.submit(docs)
      const created = outcomes.filter((outcome) => outcome.status === 'created').length
      firstError ??= outcomes.find((outcome) => outcome.status !== 'created')?.status
      return created
    }, { count: Math.ceil(size / LOAD_BATCH), guardMs: 3 * 3600_000 })
    await writer.drain()
    if (load.units !== size || load.failures > 0) {
      throw new Error(
        `loading the read dataset stored ${load.units} of ${size} events` +
          (load.firstFailure === undefined ? '' : `: ${String(load.firstFailure)}`) +
          (firstError === undefined ? '' : ` (an event answered ${firstError})`)
      )
    }
    log(`loaded ${size} events in ${((performance.now() - began) / 1000).toFixed(1)} s`)
    return { db, service, store, size, start }
  } catch (err) {
    await service.stop()
    throw err
  }
}
