import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { Readable } from 'node:stream'
import type { Event } from '../../../schemas/event.js'
import type { EventExportQuery, EventListQuery } from '../../../schemas/event-query.js'
import { NotFoundError } from '../../../errors.js'
import type { Principal } from '../access/authorization.js'
import { CursorCodec, queryFingerprint } from './cursor.js'
import { exportLines, EXPORT_FORMATS, type ExportEnd } from './export-format.js'
import { toEventFilter, type EventFilter, type PagePosition } from './filter.js'
import { toPublicEvent, type StoredEvent } from './record.js'
import type { Sequencer } from './sequencer.js'
import type { EventStore } from './event-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventPager: EventPager
  }
}

export interface EventPagerOptions {
  /** Signs page cursors (a key is derived from it, never used as is). */
  cursorSecret: string
  /** Time limit for one export's whole cursor. */
  exportMaxTimeMS: number
}

export interface EventPage {
  items: Event[]
  next_cursor: string | null
}

export interface EventExport {
  contentType: string
  filename: string
  body: Readable
}

type Reader = Pick<Principal, 'tenant'>

/** Reads, always confined to the caller's tenant: keyset pages, one event, and streamed exports. */
export class EventPager {
  private readonly cursors: CursorCodec

  constructor (private readonly store: EventStore, private readonly sequencer: Sequencer, private readonly options: EventPagerOptions) {
    this.cursors = new CursorCodec(options.cursorSecret)
  }

  /** One page; `next_cursor` continues it with the same filters and order. */
  async page (reader: Reader, query: EventListQuery, signal?: AbortSignal): Promise<EventPage> {
    const { limit, order, cursor, ...filters } = query
    const filter = await this.filterFor(reader, filters)
    const queryKey = queryFingerprint([reader.tenant, order, filters])
    const after = cursor === undefined ? undefined : this.cursors.decode(cursor, queryKey)
    // one extra row tells whether another page exists without a count
    const docs = await this.store.findPage(filter, { limit: limit + 1, order, after }, signal)
    const page = docs.slice(0, limit)
    const last = page[page.length - 1]
    return {
      items: page.map(toPublicEvent),
      next_cursor: docs.length > limit && last !== undefined ? this.cursors.encode(positionOf(filter, last), queryKey) : null
    }
  }

  async get (reader: Reader, id: string, signal?: AbortSignal): Promise<Event> {
    const doc = await this.store.findById(reader.tenant, id, signal)
    // another tenant's event is exactly as absent as a missing one
    if (doc === null) throw new NotFoundError('Event')
    return toPublicEvent(doc)
  }

  /** Every match, streamed in constant memory; fails before any byte is sent if the database is down. */
  async export (reader: Reader, query: EventExportQuery, log: FastifyBaseLogger, onEnd?: ExportEnd): Promise<EventExport> {
    const { format, order, ...filters } = query
    // no abort signal: a client that goes away closes the stream, and closing the cursor kills it on the server
    const cursor = this.store.openCursor(await this.filterFor(reader, filters), order, this.options.exportMaxTimeMS)
    const first = await cursor.hasNext().catch(async (err: unknown) => { await cursor.close(); throw err })
    const { contentType, extension } = EXPORT_FORMATS[format]
    return {
      contentType,
      filename: `events-${new Date().toISOString().replace(/[:.]/g, '-')}.${extension}`,
      // a client that goes away destroys the stream, which closes the database cursor (see exportLines)
      body: Readable.from(exportLines(first ? cursor : null, format, log, onEnd), { objectMode: false })
    }
  }

  /** A reader's filter; a read by sequence stops where the tenant's sequence is settled, so it never skips a seq still being written. */
  private async filterFor (reader: Reader, filters: Record<string, unknown>): Promise<EventFilter> {
    const filter = toEventFilter(reader.tenant, filters)
    if (filter.afterSeq !== undefined) filter.settledThrough = await this.sequencer.settledThrough(reader.tenant)
    return filter
  }
}

function positionOf (filter: EventFilter, doc: StoredEvent): PagePosition {
  return filter.afterSeq !== undefined ? { seq: doc.seq } : { timestamp: doc.timestamp, id: doc._id.toHexString() }
}

async function eventPagerPlugin (fastify: FastifyInstance, options: EventPagerOptions) {
  fastify.decorate('eventPager', new EventPager(fastify.eventStore, fastify.sequencer, options))
}

export default fp(eventPagerPlugin, { fastify: '5.x', name: 'event-pager', dependencies: ['event-store', 'sequencer'] })
