import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { MongoBulkWriteError, ObjectId, type Collection, type IndexDescription } from 'mongodb'
import { ensureIndexes } from '../storage/indexes.js'
import { buildQuery, sortOf, TEXT_FIELDS, type EventFilter, type PageRequest } from './filter.js'
import { textIndex, textSearchFor, type TextSearch } from '../storage/text-search.js'
import { contentFingerprint, type StoredEvent } from './record.js'
import { isDuplicateKey } from '../storage/duplicate-key.js'

/** The first event stored under an idempotency key, as a duplicate of it is answered. */
export interface FirstEvent {
  id: string
  seq?: number
  timestamp?: Date
  hash?: string
  /** contentFingerprint of the first event; a repeat with another one is a conflict. */
  fingerprint?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    eventStore: EventStore
  }
}

export type InsertOutcome =
  | { ok: true }
  | { ok: false, duplicate: true }
  | { ok: false, duplicate: false, error: string }

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

/**
 * No two events of a tenant share a seq, whatever a bug or a second replica might attempt. Created after
 * the startup migration has numbered older events (see sequencer.ts), since FerretDB has no partial index.
 * It also serves `afterSeq` reads and the completeness check on MongoDB.
 */
export const SEQ_INDEX: IndexDescription = { key: { tenant: 1, seq: 1 }, name: 'tenant_seq', unique: true }

export class EventStore {
  constructor (
    readonly collection: Collection<StoredEvent>,
    private readonly maxTimeMS: number,
    /** How `q` matches here; `index` needs the text index, created with the others. */
    readonly textSearch: TextSearch = 'substring'
  ) {}

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.collection, this.textSearch === 'index' ? [...EVENT_INDEXES, textIndex(TEXT_FIELDS)] : EVENT_INDEXES)
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
        outcomes[writeError.index] = isDuplicateKey(writeError)
          ? { ok: false, duplicate: true }
          : { ok: false, duplicate: false, error: 'the database refused this event' }
      }
    }
    return outcomes
  }

  /** The first stored event for each idempotency key: what a duplicate answers with, and what it is compared with. */
  async findByIdempotencyKeys (tenant: string, keys: string[]): Promise<Map<string, FirstEvent>> {
    const found = await this.collection.find({ tenant, idem_key: { $in: keys } }).maxTimeMS(this.maxTimeMS).toArray()
    return new Map(
      found.map((doc) => [
        doc.idem_key,
        { id: doc._id.toHexString(), seq: doc.seq, timestamp: doc.timestamp, hash: doc.hash, fingerprint: contentFingerprint(doc) }
      ])
    )
  }

  async findById (tenant: string, id: string, signal?: AbortSignal): Promise<StoredEvent | null> {
    if (!ObjectId.isValid(id) || id.length !== 24) return null
    return await this.collection.findOne({ tenant, _id: new ObjectId(id) }, { maxTimeMS: this.maxTimeMS, signal })
  }

  /** One page in (timestamp, _id) or seq order; a deep page costs what the first does. */
  async findPage (filter: EventFilter, page: PageRequest, signal?: AbortSignal): Promise<StoredEvent[]> {
    return await this.collection
      .find(buildQuery(filter, page, this.textSearch), { projection: { idem_key: 0 }, signal })
      .sort(sortOf(filter, page.order))
      .limit(page.limit)
      .maxTimeMS(this.maxTimeMS)
      .toArray()
  }

  /**
   * Every match as a cursor the caller streams and must close. Its time limit is the export's own:
   * MongoDB counts it across the whole cursor, and an export of millions of events is long by design.
   */
  openCursor (filter: EventFilter, order: 'asc' | 'desc', maxTimeMS: number) {
    return this.collection
      .find(buildQuery(filter, undefined, this.textSearch), { projection: { idem_key: 0 } })
      .sort(sortOf(filter, order))
      .batchSize(1000)
      .maxTimeMS(maxTimeMS)
  }
}

/** The driver error a bulk write failed with (network, server selection), so the error handler sees it as a 503. */
function unwrapBulkError (err: MongoBulkWriteError): Error {
  const cause: unknown = err.errorResponse
  return cause instanceof Error ? cause : err
}

async function eventStorePlugin (fastify: FastifyInstance, options: { maxTimeMS: number }) {
  const db = fastify.mongo.db
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (db === undefined) throw new Error('mongodb plugin has no database')
  const store = new EventStore(db.collection<StoredEvent>('events'), options.maxTimeMS, textSearchFor(fastify.databaseKind))
  await store.ensureIndexes()
  fastify.decorate('eventStore', store)
}

export default fp(eventStorePlugin, { fastify: '5.x', name: 'event-store', dependencies: ['mongodb', 'database-kind'] })
