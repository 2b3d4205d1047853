import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { EventInput } from '../../../schemas/event.js'
import type { Principal } from '../authorization.js'
import { OverloadedError } from '../../../errors.js'
import type { EventStore } from './store.js'
import { toStoredEvent, type StoredEvent } from './record.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventWriter: EventWriter
  }
}

export type WriteOutcome =
  | { status: 'created' | 'duplicate', id: string, timestamp: Date }
  | { status: 'error', error: string }

export interface EventWriterOptions {
  /** Most events in one bulk insert; 1 turns group commit off. */
  maxBatch: number
  /** Longest an event waits for company before its batch is written. */
  maxWaitMs: number
  /** Events accepted but not yet acknowledged by the database; beyond it, new ones are refused (503). */
  limit: number
  /** Bulk inserts in flight at once: enough to keep the database busy while the next batch fills. */
  maxInFlight?: number
}

/** One request's events: they share one bulk insert, so a request is never half stored and half failed. */
interface Unit {
  docs: StoredEvent[]
  resolve: (outcomes: WriteOutcome[]) => void
  reject: (err: unknown) => void
}

/**
 * The one write path: every stored event, one event or a client's batch, goes through `write`.
 *
 * Group commit. Concurrent requests are coalesced into one unordered `insertMany`, written when the
 * batch is full or the oldest event has waited `maxWaitMs`, and while fewer than `maxInFlight` writes are
 * outstanding (so batches grow by themselves when the database is the bottleneck). Each caller's
 * promise settles only when the write holding its events is acknowledged, or failed: an event is never
 * answered 2xx before the database has it.
 */
export class EventWriter {
  private waiting: Unit[] = []
  private waitingEvents = 0
  private timer: NodeJS.Timeout | undefined
  private inFlight = 0
  private outstanding = 0
  private readonly drained: Array<() => void> = []
  readonly maxInFlight: number

  constructor (private readonly store: EventStore, readonly options: EventWriterOptions) {
    // batch size 1 means "group commit off": every request writes on its own, as a naive service would
    this.maxInFlight = options.maxInFlight ?? (options.maxBatch === 1 ? Infinity : 4)
  }

  /** Events accepted and not yet settled. */
  get depth (): number {
    return this.outstanding
  }

  /** Records the events of one request, all received at `receivedAt`; their outcomes in input order. */
  async write (principal: Pick<Principal, 'tenant' | 'username'>, inputs: EventInput[], receivedAt = new Date()): Promise<WriteOutcome[]> {
    return await this.submit(inputs.map((input) => toStoredEvent(input, principal, receivedAt)))
  }

  /** Queues stored-form events as one unit; refused (503) when the queue is full. */
  async submit (docs: StoredEvent[]): Promise<WriteOutcome[]> {
    this.reserve(docs.length)
    return await new Promise((resolve, reject) => {
      this.waiting.push({ docs, resolve, reject })
      this.waitingEvents += docs.length
      this.schedule()
    })
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
    if (this.waitingEvents >= this.options.maxBatch) {
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
      const units = this.takeBatch()
      const docs = units.flatMap((unit) => unit.docs)
      this.inFlight++
      this.bulkWrite(docs).then(
        (outcomes) => {
          let offset = 0
          for (const unit of units) {
            unit.resolve(outcomes.slice(offset, offset + unit.docs.length))
            offset += unit.docs.length
          }
        },
        (err: unknown) => units.forEach((unit) => unit.reject(err))
      ).finally(() => {
        this.inFlight--
        this.release(docs.length)
        // what accumulated while this write was out goes next, without waiting for a timer
        if (this.waiting.length > 0) this.flush(false)
      })
    }
  }

  /** Whole units up to maxBatch events; a unit larger than that (a client's batch) goes alone. */
  private takeBatch (): Unit[] {
    const units: Unit[] = []
    let size = 0
    while (this.waiting.length > 0) {
      const next = this.waiting[0] as Unit
      if (units.length > 0 && size + next.docs.length > this.options.maxBatch) break
      units.push(next)
      this.waiting.shift()
      size += next.docs.length
    }
    this.waitingEvents -= size
    return units
  }

  /** One bulk insert of events from any number of requests and tenants. */
  private async bulkWrite (docs: StoredEvent[]): Promise<WriteOutcome[]> {
    const results = await this.store.insertMany(docs)
    const outcomes: WriteOutcome[] = results.map((result, i) => {
      const doc = docs[i] as StoredEvent
      if (result.ok) return { status: 'created', id: doc._id.toHexString(), timestamp: doc.timestamp }
      return { status: 'error', error: 'the database refused this event' }
    })
    const duplicates = results.flatMap((result, i) => (!result.ok && result.duplicate) ? [i] : [])
    if (duplicates.length > 0) await this.resolveDuplicates(docs, duplicates, outcomes)
    return outcomes
  }

  /** A duplicate answers with the first stored event's id and timestamp. */
  private async resolveDuplicates (docs: StoredEvent[], indexes: number[], outcomes: WriteOutcome[]): Promise<void> {
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
        if (first !== undefined) outcomes[i] = { status: 'duplicate', id: first.id, timestamp: first.timestamp }
      }
    }
  }
}

async function eventWriterPlugin (fastify: FastifyInstance, options: EventWriterOptions) {
  const writer = new EventWriter(fastify.eventStore, options)
  fastify.decorate('eventWriter', writer)
  // onClose runs after in-flight requests end; anything still queued is written before the client closes
  fastify.addHook('onClose', async function flushPendingEvents () {
    await writer.drain()
  })
}

export default fp(eventWriterPlugin, { fastify: '5.x', name: 'event-writer', dependencies: ['event-store'] })
