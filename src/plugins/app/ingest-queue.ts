import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { EventStore, StoredEvent } from './event-store.js'
import { OverloadedError } from '../../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    ingestQueue: IngestQueue
  }
}

export type IngestOutcome =
  | { status: 'created' | 'duplicate', id: string, timestamp: Date }
  | { status: 'error', error: string }

export interface IngestQueueOptions {
  /** Most events in one bulk insert; 1 turns group commit off. */
  maxBatch: number
  /** Longest an event waits for company before its batch is written. */
  maxWaitMs: number
  /** Events accepted but not yet acknowledged by the database; beyond it, new ones are refused (503). */
  limit: number
  /** Bulk inserts in flight at once: enough to keep the database busy while the next batch fills. */
  maxInFlight?: number
}

interface Waiting {
  doc: StoredEvent
  resolve: (outcome: IngestOutcome) => void
  reject: (err: unknown) => void
}

/**
 * Group commit. Concurrent single-event requests are coalesced into one unordered `insertMany`, written
 * when the batch is full or the oldest event has waited `maxWaitMs`, and while fewer than `maxInFlight`
 * writes are outstanding (so batches grow by themselves when the database is the bottleneck).
 * Each caller's promise settles only when the write holding its event is acknowledged, or failed: an
 * event is never answered 2xx before the database has it.
 */
export class IngestQueue {
  private waiting: Waiting[] = []
  private timer: NodeJS.Timeout | undefined
  private inFlight = 0
  private outstanding = 0
  private readonly drained: Array<() => void> = []
  readonly maxInFlight: number

  constructor (private readonly store: EventStore, readonly options: IngestQueueOptions) {
    // batch size 1 means "group commit off": every request writes on its own, as a naive service would
    this.maxInFlight = options.maxInFlight ?? (options.maxBatch === 1 ? Infinity : 4)
  }

  /** Events accepted and not yet settled. */
  get depth (): number {
    return this.outstanding
  }

  submit (doc: StoredEvent): Promise<IngestOutcome> {
    this.reserve(1)
    return new Promise((resolve, reject) => {
      this.waiting.push({ doc, resolve, reject })
      this.schedule()
    })
  }

  /** A client's own batch is already a bulk write: it skips the coalescing but counts against the limit. */
  async submitMany (docs: StoredEvent[]): Promise<IngestOutcome[]> {
    this.reserve(docs.length)
    try {
      return await this.write(docs)
    } finally {
      this.release(docs.length)
    }
  }

  /** Writes everything still waiting and resolves once every accepted event is settled. */
  async drain (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    while (this.waiting.length > 0) this.flush(true)
    if (this.outstanding === 0) return
    await new Promise<void>((resolve) => this.drained.push(resolve))
  }

  private reserve (count: number): void {
    if (this.outstanding + count > this.options.limit) throw new OverloadedError()
    this.outstanding += count
  }

  private release (count: number): void {
    this.outstanding -= count
    if (this.outstanding === 0) this.drained.splice(0).forEach((resolve) => resolve())
  }

  private schedule (): void {
    if (this.waiting.length >= this.options.maxBatch) {
      this.flush(false)
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.flush(false)
      }, this.options.maxWaitMs)
    }
  }

  /** Starts writes for what is waiting; `force` ignores the in-flight bound (draining at shutdown). */
  private flush (force: boolean): void {
    const limit = force ? Infinity : this.maxInFlight
    while (this.waiting.length > 0 && this.inFlight < limit) {
      const batch = this.waiting.splice(0, this.options.maxBatch)
      this.inFlight++
      this.write(batch.map((w) => w.doc)).then(
        (outcomes) => batch.forEach((w, i) => w.resolve(outcomes[i] as IngestOutcome)),
        (err: unknown) => batch.forEach((w) => w.reject(err))
      ).finally(() => {
        this.inFlight--
        this.release(batch.length)
        // what accumulated while this write was out goes next, without waiting for a timer
        if (this.waiting.length > 0) this.flush(false)
      })
    }
  }

  private async write (docs: StoredEvent[]): Promise<IngestOutcome[]> {
    const results = await this.store.insertMany(docs)
    const outcomes: IngestOutcome[] = results.map((result, i) => {
      const doc = docs[i] as StoredEvent
      if (result.ok) return { status: 'created', id: doc._id.toHexString(), timestamp: doc.timestamp }
      if (!result.duplicate) return { status: 'error', error: result.error }
      return { status: 'error', error: 'pending duplicate lookup' }
    })
    const duplicates = results.flatMap((result, i) => (!result.ok && result.duplicate) ? [i] : [])
    if (duplicates.length > 0) await this.resolveDuplicates(docs, duplicates, outcomes)
    return outcomes
  }

  /** A duplicate answers with the first stored event's id and timestamp. */
  private async resolveDuplicates (docs: StoredEvent[], indexes: number[], outcomes: IngestOutcome[]): Promise<void> {
    const byTenant = new Map<string, number[]>()
    for (const i of indexes) {
      const tenant = (docs[i] as StoredEvent).tenant
      byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), i])
    }
    for (const [tenant, tenantIndexes] of byTenant) {
      const keys = tenantIndexes.map((i) => (docs[i] as StoredEvent).idem_key)
      const firsts = await this.store.findByIdempotencyKeys(tenant, keys)
      for (const i of tenantIndexes) {
        const first = firsts.get((docs[i] as StoredEvent).idem_key)
        outcomes[i] = first === undefined
          ? { status: 'error', error: 'the database refused this event' }
          : { status: 'duplicate', id: first.id, timestamp: first.timestamp }
      }
    }
  }
}

async function ingestQueuePlugin (fastify: FastifyInstance, options: IngestQueueOptions) {
  const queue = new IngestQueue(fastify.eventStore, options)
  fastify.decorate('ingestQueue', queue)
  // onClose runs after in-flight requests end; anything still queued is written before the client closes
  fastify.addHook('onClose', async function flushPendingEvents () {
    await queue.drain()
  })
}

export default fp(ingestQueuePlugin, { fastify: '5.x', name: 'ingest-queue', dependencies: ['event-store'] })
