import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Document } from 'mongodb'
import { FACET_MAX_DISTINCT, type FacetQuery, type Facets } from '../../../schemas/facets.js'
import { buildQuery, toEventFilter } from './filter.js'
import { isUnsupported, type Grouping } from './event-histogram.js'
import type { EventStore } from './event-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventFacets: EventFacets
  }
}

/**
 * The most frequent values of one field among a search's matches, inside the reader's tenant: one admitted read,
 * like a page. MongoDB groups them (`$group`, `$sort`, `$limit`: only the top rows come back); where the database
 * cannot, the field's values are streamed and counted here, at most FACET_MAX_DISTINCT of them in memory.
 */
export class EventFacets {
  /** Found out on the first count: until then, the database is asked to group. */
  grouping: Grouping | undefined

  constructor (private readonly store: EventStore, private readonly maxTimeMS: number) {}

  async top (tenant: string, query: FacetQuery, signal?: AbortSignal): Promise<Facets> {
    const { field, limit, ...filters } = query
    const match = buildQuery(toEventFilter(tenant, filters), undefined, this.store.textSearch)
    if (this.grouping !== 'stream') {
      try {
        const values = await this.grouped(match, field, limit, signal)
        this.grouping = 'group'
        return { field, values, exact: true }
      } catch (err) {
        if (!isUnsupported(err)) throw err
        this.grouping = 'stream'
      }
    }
    return { field, ...await this.streamed(match, field, limit, signal) }
  }

  private async grouped (match: Document, field: string, limit: number, signal?: AbortSignal): Promise<Facets['values']> {
    const rows = await this.store.collection.aggregate<{ _id: unknown, count: number }>([
      // erased and absent values are not values to filter by; beside the query's own keys (its field filters are
      // inside its $and), so that a $text stays at the top level of the first stage, where MongoDB takes it
      { $match: { ...match, [field]: { $type: 'string' } } },
      { $group: { _id: `$${field}`, count: { $sum: 1 } } },
      { $sort: { count: -1, _id: 1 } },
      { $limit: limit }
    ], { maxTimeMS: this.maxTimeMS, signal }).toArray()
    return rows.map((row) => ({ value: String(row._id), count: row.count }))
  }

  private async streamed (match: Document, field: string, limit: number, signal?: AbortSignal): Promise<Omit<Facets, 'field'>> {
    const counts = new Map<string, number>()
    let exact = true
    const cursor = this.store.collection
      .find(match, { projection: { _id: 0, [field]: 1 }, signal })
      .batchSize(1000)
      .maxTimeMS(this.maxTimeMS)
    try {
      for await (const doc of cursor) {
        const value = (doc as Record<string, unknown>)[field]
        if (typeof value !== 'string') continue
        const count = counts.get(value)
        if (count !== undefined) counts.set(value, count + 1)
        else if (counts.size < FACET_MAX_DISTINCT) counts.set(value, 1)
        else exact = false
      }
    } finally {
      await cursor.close()
    }
    const values = [...counts]
      .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit)
      .map(([value, count]) => ({ value, count }))
    return { values, exact }
  }
}

async function eventFacetsPlugin (fastify: FastifyInstance, options: { maxTimeMS: number }) {
  fastify.decorate('eventFacets', new EventFacets(fastify.eventStore, options.maxTimeMS))
}

export default fp(eventFacetsPlugin, { fastify: '5.x', name: 'event-facets', dependencies: ['event-store'] })
