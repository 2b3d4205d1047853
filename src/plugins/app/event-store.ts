import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { MongoBulkWriteError, ObjectId, type Collection, type Document, type Filter, type IndexDescription } from 'mongodb'
import type { EventInput } from '../../schemas/event.js'
import { ensureIndexes } from './indexes.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventStore: EventStore
  }
}

/** An event as stored. `idem_key` backs idempotency and never leaves the database. */
export interface StoredEvent {
  _id: ObjectId
  tenant: string
  idem_key: string
  timestamp: Date
  submitted_by: string
  event_type: string
  username: string
  entitytype: string
  ip: string
  location: string
  description: string
  event_specificdetails?: Record<string, unknown>
  event_id?: string
  occurred_at?: Date
}

export const COMMON_FIELDS = ['event_type', 'username', 'entitytype', 'ip', 'location', 'description'] as const
export const FILTER_FIELDS = [...COMMON_FIELDS, 'submitted_by', 'event_id'] as const
export type FilterField = typeof FILTER_FIELDS[number]

/** A filter built from validated, typed query input: the only way routes can ask for events. */
export interface EventFilter {
  tenant: string
  fields?: Partial<Record<FilterField, string[]>>
  /** Equality on a path inside event_specificdetails (any of the values); a numeric-looking value also matches the number. */
  details?: Array<{ path: string[], values: string[] }>
  detailsExists?: Array<{ path: string[], exists: boolean }>
  timeStart?: Date
  timeEnd?: Date
}

export interface PageRequest {
  limit: number
  order: 'asc' | 'desc'
  /** Keyset position: return events strictly after this one in the requested order. */
  after?: { timestamp: Date, id: string }
}

export type InsertOutcome =
  | { ok: true }
  | { ok: false, duplicate: true }
  | { ok: false, duplicate: false, error: string }

const DUPLICATE_KEY = 11000

/**
 * Indexes, tenant first: every query is confined to one tenant. Then equality fields, then the
 * (timestamp, _id) keyset the pages walk. `idem_key` is unique per tenant: the client's event_id when
 * given, the event's own id otherwise, so events without an event_id never collide (FerretDB has no
 * partial indexes, and a sparse compound index would still index the tenant).
 */
export const EVENT_INDEXES: IndexDescription[] = [
  { key: { tenant: 1, idem_key: 1 }, name: 'tenant_idem_key', unique: true },
  { key: { tenant: 1, timestamp: -1, _id: -1 }, name: 'tenant_time' },
  { key: { tenant: 1, username: 1, timestamp: -1, _id: -1 }, name: 'tenant_username_time' },
  { key: { tenant: 1, event_type: 1, timestamp: -1, _id: -1 }, name: 'tenant_type_time' }
]

export function idempotencyKey (input: Pick<EventInput, 'event_id'>, id: ObjectId): string {
  // prefixes keep a client's event_id from ever equalling an auto key
  return input.event_id !== undefined ? `e:${input.event_id}` : `i:${id.toHexString()}`
}

export class EventStore {
  constructor (readonly collection: Collection<StoredEvent>, private readonly maxTimeMS: number) {}

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.collection, EVENT_INDEXES)
  }

  /**
   * One unordered bulk insert; the outcome of each document, in input order. A duplicate idempotency
   * key is not an error here: the caller looks up the first event. Anything else that fails the whole
   * command (network, server down) is thrown, and none of the batch may be acknowledged.
   */
  async insertMany (docs: StoredEvent[]): Promise<InsertOutcome[]> {
    const outcomes: InsertOutcome[] = docs.map(() => ({ ok: true }))
    try {
      await this.collection.insertMany(docs, { ordered: false })
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) throw err
      const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]
      // the driver wraps every failure of the command in MongoBulkWriteError, a lost connection or an unreachable
      // server included: only per-document write errors (and no write concern error) leave the rest acknowledged
      if (writeErrors.length === 0 || err.result.getWriteConcernError() !== undefined) throw unwrapBulkError(err)
      for (const writeError of writeErrors) {
        outcomes[writeError.index] = writeError.code === DUPLICATE_KEY
          ? { ok: false, duplicate: true }
          : { ok: false, duplicate: false, error: 'the database refused this event' }
      }
    }
    return outcomes
  }

  /** The first stored event for each idempotency key: what a duplicate answers with. */
  async findByIdempotencyKeys (tenant: string, keys: string[]): Promise<Map<string, { id: string, timestamp: Date }>> {
    const found = await this.collection
      .find({ tenant, idem_key: { $in: keys } }, { projection: { _id: 1, idem_key: 1, timestamp: 1 } })
      .maxTimeMS(this.maxTimeMS)
      .toArray()
    return new Map(found.map((doc) => [doc.idem_key, { id: doc._id.toHexString(), timestamp: doc.timestamp }]))
  }

  async findById (tenant: string, id: string): Promise<StoredEvent | null> {
    if (!ObjectId.isValid(id) || id.length !== 24) return null
    return await this.collection.findOne({ tenant, _id: new ObjectId(id) }, { maxTimeMS: this.maxTimeMS })
  }

  /** One page in (timestamp, _id) order; a deep page costs what the first does. */
  async findPage (filter: EventFilter, page: PageRequest): Promise<StoredEvent[]> {
    const direction = page.order === 'asc' ? 1 : -1
    return await this.collection
      .find(buildQuery(filter, page), { projection: { idem_key: 0 } })
      .sort({ timestamp: direction, _id: direction })
      .limit(page.limit)
      .maxTimeMS(this.maxTimeMS)
      .toArray()
  }

  /**
   * Every match as a cursor the caller streams and must close. Its time limit is the export's own:
   * MongoDB counts it across the whole cursor, and an export of millions of events is long by design.
   */
  openCursor (filter: EventFilter, order: 'asc' | 'desc', maxTimeMS: number) {
    const direction = order === 'asc' ? 1 : -1
    return this.collection
      .find(buildQuery(filter), { projection: { idem_key: 0 } })
      .sort({ timestamp: direction, _id: direction })
      .batchSize(1000)
      .maxTimeMS(maxTimeMS)
  }

  async count (filter: EventFilter): Promise<number> {
    return await this.collection.countDocuments(buildQuery(filter), { maxTimeMS: this.maxTimeMS })
  }
}

/** Translates a typed filter into a MongoDB query. Every value here is a validated string or Date. */
export function buildQuery (filter: EventFilter, page?: PageRequest): Filter<StoredEvent> {
  const clauses: Document[] = []
  for (const [field, values] of Object.entries(filter.fields ?? {})) {
    if (values === undefined || values.length === 0) continue
    clauses.push({ [field]: values.length === 1 ? values[0] : { $in: values } })
  }
  for (const { path, values } of filter.details ?? []) {
    const candidates: Array<string | number> = [...values]
    for (const value of values) {
      // JSON's number syntax only: Number() would also read '0x10', ' 42' or '1e999' (Infinity)
      const number = Number(value)
      if (JSON_NUMBER.test(value) && Number.isFinite(number)) candidates.push(number)
    }
    clauses.push({ [detailsPath(path)]: candidates.length === 1 ? candidates[0] : { $in: candidates } })
  }
  for (const { path, exists } of filter.detailsExists ?? []) {
    clauses.push({ [detailsPath(path)]: { $exists: exists } })
  }
  if (filter.timeStart !== undefined || filter.timeEnd !== undefined) {
    const range: Document = {}
    if (filter.timeStart !== undefined) range.$gte = filter.timeStart
    if (filter.timeEnd !== undefined) range.$lt = filter.timeEnd
    clauses.push({ timestamp: range })
  }
  if (page?.after !== undefined) {
    const op = page.order === 'asc' ? '$gt' : '$lt'
    const { timestamp, id } = page.after
    clauses.push({ $or: [{ timestamp: { [op]: timestamp } }, { timestamp, _id: { [op]: new ObjectId(id) } }] })
  }
  return (clauses.length === 0 ? { tenant: filter.tenant } : { tenant: filter.tenant, $and: clauses }) as Filter<StoredEvent>
}

/** The driver error a bulk write failed with (network, server selection), so the error handler sees it as a 503. */
function unwrapBulkError (err: MongoBulkWriteError): Error {
  const cause: unknown = err.errorResponse
  return cause instanceof Error ? cause : err
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

function detailsPath (path: string[]): string {
  return ['event_specificdetails', ...path].join('.')
}

async function eventStorePlugin (fastify: FastifyInstance, options: { maxTimeMS: number }) {
  const db = fastify.mongo.db
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (db === undefined) throw new Error('mongodb plugin has no database')
  const store = new EventStore(db.collection<StoredEvent>('events'), options.maxTimeMS)
  await store.ensureIndexes()
  fastify.decorate('eventStore', store)
}

export default fp(eventStorePlugin, { fastify: '5.x', name: 'event-store', dependencies: ['mongodb'] })
