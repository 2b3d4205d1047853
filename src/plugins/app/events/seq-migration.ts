import type { FastifyBaseLogger } from 'fastify'
import type { Collection } from 'mongodb'
import { groupByTenant, type StoredEvent } from './record.js'

const CHUNK = 1000

/** What the migration needs of the sequencer (which calls it at startup): claim a range, settle it, store the settlements. */
export interface SeqAssigner {
  reserve: (tenant: string, count: number) => Promise<{ tenant: string; first: number; count: number }>
  settle: (
    settled: Array<{ tenant: string; first: number; count: number; holes: Array<{ seq: number; reason: 'write_not_completed' }> }>
  ) => void
  flush: () => Promise<void>
}

/**
 * Events written before sequence numbers existed get theirs, once, at startup: per tenant in
 * (timestamp, _id) order, so the old log reads in the order it was received. Idempotent: only events
 * without a seq are touched, and an event another replica numbered first leaves a recorded hole, never a
 * second seq. On MongoDB this is an index-free one-off pass; on FerretDB every update scans, which is
 * fine for the embedded default's sizes and costs nothing once no event lacks a seq.
 */
export async function assignMissingSeqs (events: Collection<StoredEvent>, sequencer: SeqAssigner, log: FastifyBaseLogger): Promise<number> {
  const legacy = await events
    .find({ seq: { $exists: false } }, { projection: { _id: 1, tenant: 1 } })
    .sort({ timestamp: 1, _id: 1 })
    .toArray()
  if (legacy.length === 0) return 0
  const byTenant = groupByTenant(legacy, (doc) => doc.tenant)
  for (const [tenant, docs] of byTenant) {
    for (let start = 0; start < docs.length; start += CHUNK) {
      const chunk = docs.slice(start, start + CHUNK)
      const reservation = await sequencer.reserve(tenant, chunk.length)
      const result = await events.bulkWrite(chunk.map((doc, n) => ({
        updateOne: { filter: { _id: doc._id, seq: { $exists: false } }, update: { $set: { seq: reservation.first + n } } }
      })), { ordered: true })
      const holes = result.modifiedCount === chunk.length ? [] : await unnumbered(events, tenant, reservation.first, chunk.length)
      sequencer.settle([{ ...reservation, holes: holes.map((seq) => ({ seq, reason: 'write_not_completed' as const })) }])
    }
  }
  await sequencer.flush()
  log.info({ events: legacy.length, tenants: byTenant.size }, 'gave sequence numbers to events stored before they existed')
  return legacy.length
}

/** Seqs of a migration chunk that no event took (another replica numbered those events first). */
async function unnumbered (events: Collection<StoredEvent>, tenant: string, first: number, count: number): Promise<number[]> {
  const taken = new Set(
    (await events.find({ tenant, seq: { $gte: first, $lt: first + count } }, { projection: { seq: 1 } }).toArray()).map((doc) => doc.seq)
  )
  return Array.from({ length: count }, (_, n) => first + n).filter((seq) => !taken.has(seq))
}
