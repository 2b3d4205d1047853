import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { MongoServerError, type Document } from 'mongodb'
import { BadRequestError } from '../../../errors.js'
import { HISTOGRAM_INTERVALS, MAX_BUCKETS, type HistogramQuery } from '../../../schemas/histogram.js'
import { buildQuery, toEventFilter } from './filter.js'
import type { EventStore } from './event-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventHistogram: EventHistogram
  }
}

export interface Histogram {
  interval: string
  timeStart: string
  timeEnd: string
  total: number
  buckets: Array<{ start: string, count: number }>
}

/**
 * How the counts are made: `group`, one $group in the database (MongoDB); `stream`, the matching
 * timestamps streamed and counted here into one counter per bucket, where the database has no such
 * $group (FerretDB 1.24 refuses the expression). Memory is bounded by MAX_BUCKETS either way.
 */
export type Grouping = 'group' | 'stream'

/** Codes of a server that does not implement an aggregation stage or expression (FerretDB says NotImplemented). */
const UNSUPPORTED = new Set([238, 'NotImplemented', 'InvalidPipelineOperator', 'Location15952', 'Location16410'])

/** Counts of a search's matches per interval, always inside the reader's tenant. */
export class EventHistogram {
  /** Found out on the first count: until then, the database is asked to group. */
  grouping: Grouping | undefined

  constructor (private readonly store: EventStore, private readonly maxTimeMS: number) {}

  async count (tenant: string, query: HistogramQuery, signal?: AbortSignal): Promise<Histogram> {
    const { interval, ...filters } = query
    const width = HISTOGRAM_INTERVALS[interval]
    const filter = toEventFilter(tenant, filters)
    const start = filter.timeStart?.getTime() ?? 0
    const end = filter.timeEnd?.getTime() ?? 0
    const first = Math.floor(start / width) * width
    const size = Math.max(1, Math.ceil((end - first) / width))
    if (size > MAX_BUCKETS) {
      throw new BadRequestError(`${size} buckets of ${interval} cover this range: at most ${MAX_BUCKETS}; choose a wider interval`)
    }
    const counts = new Array<number>(size).fill(0)
    const match = buildQuery(filter, undefined, this.store.textSearch)

    if (this.grouping !== 'stream') {
      try {
        await this.grouped(match, first, width, counts, signal)
        this.grouping = 'group'
      } catch (err) {
        if (!isUnsupported(err)) throw err
        this.grouping = 'stream'
      }
    }
    if (this.grouping === 'stream') await this.streamed(match, first, width, counts.fill(0), signal)

    return {
      interval,
      timeStart: new Date(start).toISOString(),
      timeEnd: new Date(end).toISOString(),
      total: counts.reduce((sum, count) => sum + count, 0),
      buckets: counts.map((count, index) => ({ start: new Date(first + index * width).toISOString(), count }))
    }
  }

  /** Bucket start = t - (t - first) mod width, grouped by the database: one document per non-empty bucket. */
  private async grouped (match: Document, first: number, width: number, counts: number[], signal?: AbortSignal): Promise<void> {
    const offset = { $subtract: [{ $toLong: '$timestamp' }, first] }
    const rows = await this.store.collection.aggregate<{ _id: number, count: number }>([
      { $match: match },
      { $group: { _id: { $floor: { $divide: [offset, width] } }, count: { $sum: 1 } } }
    ], { maxTimeMS: this.maxTimeMS, signal }).toArray()
    for (const row of rows) addTo(counts, Number(row._id), row.count)
  }

  /** Only the timestamps of the matches, streamed in batches and counted into the buckets. */
  private async streamed (match: Document, first: number, width: number, counts: number[], signal?: AbortSignal): Promise<void> {
    const cursor = this.store.collection
      .find(match, { projection: { _id: 0, timestamp: 1 }, signal })
      .batchSize(1000)
      .maxTimeMS(this.maxTimeMS)
    try {
      for await (const doc of cursor) addTo(counts, Math.floor((doc.timestamp.getTime() - first) / width), 1)
    } finally {
      await cursor.close()
    }
  }
}

function addTo (counts: number[], index: number, count: number): void {
  // the filter keeps the range, so an index outside it cannot occur; guarded all the same
  if (index >= 0 && index < counts.length) counts[index] = (counts[index] ?? 0) + count
}

/** A server that does not implement an aggregation stage or expression (FerretDB 1.24): the caller counts in memory instead. */
export function isUnsupported (err: unknown): boolean {
  return err instanceof MongoServerError && (UNSUPPORTED.has(err.code ?? '') || UNSUPPORTED.has(err.codeName ?? ''))
}

async function eventHistogramPlugin (fastify: FastifyInstance, options: { maxTimeMS: number }) {
  fastify.decorate('eventHistogram', new EventHistogram(fastify.eventStore, options.maxTimeMS))
}

export default fp(eventHistogramPlugin, { fastify: '5.x', name: 'event-histogram', dependencies: ['event-store'] })
