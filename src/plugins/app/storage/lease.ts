import { randomUUID } from 'node:crypto'
import type { Db } from 'mongodb'
import { VersionedRecords } from './versioned-records.js'

/** Leases of slots this many before the current one are deleted: kept a little for the log's sake. */
const SLOTS_KEPT = 3

interface LeaseDoc {
  _id: string
  name: string
  slot: number
  owner: string
  taken_at: Date
}

/**
 * One holder at a time across replicas, without updating a shared document (FerretDB 1.24 loses
 * concurrent updates of one document). Time is cut into slots of `durationMs`; the lease of a slot is a
 * document whose `_id` names it, and the database's unique `_id` lets only one replica insert it. The
 * holder keeps it until the slot ends; a holder that dies keeps it no longer than that, and the next
 * slot is anyone's. No lock to release, so no lock to leak.
 */
export class SlotLease {
  readonly owner = randomUUID()
  private readonly leases: VersionedRecords<LeaseDoc>

  constructor (db: Db, readonly name: string, readonly durationMs: number) {
    this.leases = new VersionedRecords(db.collection<LeaseDoc>('leases'), ['slot'])
  }

  /** Until when this replica holds the lease at `now`, or undefined when another replica does. */
  async acquire (now: Date): Promise<Date | undefined> {
    const slot = Math.floor(now.getTime() / this.durationMs)
    const until = new Date((slot + 1) * this.durationMs)
    const _id = `${this.name}:${slot}`
    if (await this.leases.append({ _id, name: this.name, slot, owner: this.owner, taken_at: now })) {
      await this.leases.pruneBefore({ name: this.name }, { slot: slot - SLOTS_KEPT })
      return until
    }
    const holder = await this.leases.collection.findOne({ _id })
    return holder?.owner === this.owner ? until : undefined
  }
}
