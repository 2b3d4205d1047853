import type { Collection } from 'mongodb'
import type { SettledLog, Settlement } from '../events/sequencer.js'
import { placeInLog, toPublicEvent, type StoredEvent } from '../events/record.js'
import { holeLeafHash, leafHash } from '../../../verifier/leaf.js'
import { hashesOf, type MerkleTrees } from './tree.js'

/**
 * Extends each tenant's tree as the sequencer folds settled ranges: their leaves come with the
 * settlements, written by the write path, so building the tree never reads the event log. Only a range
 * without leaves does (events stored before this version, or settled by an older one): once per range.
 */
export class TreeBuilder implements SettledLog {
  constructor (private readonly trees: MerkleTrees, private readonly events: Collection<StoredEvent>) {}

  async extend (tenant: string, settlements: Settlement[]): Promise<void> {
    const last = settlements[settlements.length - 1] as Settlement
    const through = last.first + last.count - 1
    const head = await this.trees.head(tenant)
    if (head.size >= through) return
    const leaves: Buffer[] = []
    let next = head.size + 1
    const first = (settlements[0] as Settlement).first
    if (next < first) {
      leaves.push(...await this.leavesFromLog(tenant, next, first - 1))
      next = first
    }
    for (const settlement of settlements) {
      const end = settlement.first + settlement.count - 1
      if (end < next) continue
      const own = settlement.leaves == null ? await this.leavesFromLog(tenant, settlement.first, end) : hashesOf(settlement.leaves)
      leaves.push(...own.slice(next - settlement.first))
      next = end + 1
    }
    await this.trees.append(head, leaves)
  }

  /**
   * Leaves read from the stored events, each recomputed from the event's own fields, never taken from its
   * stored `hash` (which whoever rewrites an event can rewrite too): a tree rebuilt from a changed event has
   * another root, which the signer refuses to sign. A seq without an event is a hole's filler. An event
   * stored before leaf hashes existed is given its salt and hash here, as it is placed in the tree.
   */
  private async leavesFromLog (tenant: string, from: number, to: number): Promise<Buffer[]> {
    const leaves: Buffer[] = []
    for (let seq = from; seq <= to; seq++) leaves.push(Buffer.from(holeLeafHash(tenant, seq), 'hex'))
    for await (const doc of this.events.find({ tenant, seq: { $gte: from, $lte: to } })) {
      if (doc.hash === undefined) await this.giveLeafHash(doc)
      leaves[doc.seq - from] = Buffer.from(leafHash(toPublicEvent(doc)), 'hex')
    }
    return leaves
  }

  private async giveLeafHash (doc: StoredEvent): Promise<void> {
    placeInLog(doc, doc.seq)
    await this.events.updateOne({ _id: doc._id }, { $set: { salt: doc.salt, hash: doc.hash } })
  }
}
