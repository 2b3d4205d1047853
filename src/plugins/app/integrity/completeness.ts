import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Completeness, CompletenessQuery } from '../../../schemas/integrity.js'
import { toEventFilter } from '../events/filter.js'
import type { EventStore } from '../events/event-store.js'
import type { HoleReason } from '../../../schemas/hole-reasons.js'
import type { Sequencer } from '../events/sequencer.js'
import type { TenantPolicies } from '../retention/policy-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    completeness: CompletenessCheck
  }
}

type Hole = Completeness['holes'][number]

/**
 * "Is anything missing?", answered from the data: every seq of the tenant's log up to the settled mark is
 * either a stored event or a hole the service recorded with its reason; any other missing seq is
 * reported as `unexplained`. It reads the seqs themselves (on MongoDB a walk of the (tenant, seq) index;
 * on FerretDB a scan), streamed, holding only the holes in memory.
 */
export class CompletenessCheck {
  constructor (
    private readonly store: EventStore,
    private readonly sequencer: Sequencer,
    private readonly maxTimeMS: number,
    private readonly policies?: TenantPolicies
  ) {}

  async report (tenant: string, query: CompletenessQuery, signal?: AbortSignal): Promise<Completeness> {
    // the time bounds read, and are checked, as every event filter's are
    const { timeStart, timeEnd } = toEventFilter(tenant, query)

    const through = await this.sequencer.settledThrough(tenant)
    const recorded = await this.sequencer.recordedHoles(tenant, through)
    const holes = new HoleRanges()
    const inRange = { first_seq: null as number | null, last_seq: null as number | null, count: 0 }
    let expected = 1
    let count = 0
    // retention: seqs below the horizon were expired by policy, a range of its own (not missing)
    const horizon = await this.policies?.retentionHorizon(tenant)
    if (horizon !== undefined && horizon.horizon > 1) {
      holes.add(1, 'expired_by_policy', horizon.horizon - 1)
      expected = horizon.horizon
    }
    const cursor = this.store.collection
      .find({ tenant, seq: { $gte: expected, $lte: through } }, { projection: { _id: 0, seq: 1, timestamp: 1 } })
      .sort({ seq: 1 })
      .batchSize(5000)
      .maxTimeMS(this.maxTimeMS)
    for await (const { seq, timestamp } of cursor) {
      // the client went away: leaving the loop closes the cursor, which kills it on the server
      if (signal?.aborted === true) break
      for (; expected < seq; expected++) holes.add(expected, recorded.get(expected) ?? 'unexplained')
      if (seq === expected) {
        count++
        expected++
      }
      if ((timeStart === undefined || timestamp >= timeStart) && (timeEnd === undefined || timestamp < timeEnd)) {
        inRange.first_seq ??= seq
        inRange.last_seq = seq
        inRange.count++
      }
    }
    for (; expected <= through; expected++) holes.add(expected, recorded.get(expected) ?? 'unexplained')

    const report: Completeness = {
      tenant,
      first_seq: 1,
      last_seq: through,
      count,
      complete: holes.ranges.every((hole) => hole.reason !== 'unexplained'),
      holes: holes.ranges,
      in_flight: Math.max(0, (await this.sequencer.claimedThrough(tenant)) - through)
    }
    if (horizon !== undefined) {
      report.retention_horizon = { seq: horizon.horizon, expired_at: horizon.expired_at.toISOString(), days: horizon.days }
    }
    if (timeStart !== undefined || timeEnd !== undefined) report.time_range = { ...query, ...inRange }
    return report
  }
}

/** Consecutive missing seqs with the same reason, as one range. */
class HoleRanges {
  readonly ranges: Hole[] = []

  add (seq: number, reason: HoleReason | 'expired_by_policy' | 'unexplained', to = seq): void {
    const last = this.ranges[this.ranges.length - 1]
    if (last !== undefined && last.to === seq - 1 && last.reason === reason) last.to = to
    else this.ranges.push({ from: seq, to, reason })
  }
}

async function completenessPlugin (fastify: FastifyInstance, options: { maxTimeMS: number }) {
  fastify.decorate('completeness', new CompletenessCheck(fastify.eventStore, fastify.sequencer, options.maxTimeMS, fastify.tenantPolicies))
}

export default fp(completenessPlugin, { fastify: '5.x', name: 'completeness', dependencies: ['event-store', 'sequencer', 'policy-store'] })
