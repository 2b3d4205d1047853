import type { Db } from 'mongodb'
import { VersionedRecords } from '../../storage/versioned-records.js'

/** The newest checkpoint a witness cosigned for a tenant's log, with its cosignature line. */
export interface WitnessHead {
  _id: string
  /** `<witness name> <tenant>`: one value per witness and log (newest-record-wins over `size`). */
  log: string
  witness: string
  tenant: string
  size: number
  /** lowercase hex, as the checkpoint's root_hash */
  root: string
  /** The note signature line the witness returned, ending in "\n". */
  cosignature: string
  /** The cosignature's own timestamp, POSIX seconds. */
  timestamp: number
}

/**
 * What each witness cosigned, per tenant: one small record per witness and tenant (older sizes pruned), so that
 * reading them is a read of a collection of tenants × witnesses records, never of the log. Only the newest
 * cosignature of each witness is kept: that is what the newest checkpoint is served with, and what the next
 * submission starts from. The database is not trusted for it: a cosignature is served only after it verifies
 * against the witness's configured key, and a wrong size only costs a 409 that the witness corrects.
 */
export class WitnessHeads {
  readonly records: VersionedRecords<WitnessHead>

  constructor (db: Db) {
    this.records = new VersionedRecords(db.collection<WitnessHead>('witness_heads'), ['size'])
  }

  async ensureIndexes (): Promise<void> {
    await this.records.collection.createIndex({ log: 1, size: -1 }, { name: 'log_size' })
  }

  /** Every witness's newest head per log, keyed by `logKey(witness, tenant)`. */
  async all (): Promise<Map<string, WitnessHead>> {
    return await this.records.newestOfEach('log')
  }

  /** The heads of the tenant's log at `size`: the cosignatures a checkpoint of that size can be served with. */
  async at (tenant: string, size: number): Promise<WitnessHead[]> {
    return await this.records.collection.find({ tenant, size }).toArray()
  }

  async record (head: Omit<WitnessHead, '_id' | 'log'>): Promise<void> {
    const log = logKey(head.witness, head.tenant)
    await this.records.append({ _id: `${log} ${head.size}`, log, ...head })
    await this.records.pruneBefore({ log }, { size: head.size })
  }
}

export function logKey (witness: string, tenant: string): string {
  return `${witness} ${tenant}`
}
