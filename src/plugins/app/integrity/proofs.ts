import type { Checkpoint } from '../../../verifier/checkpoint.js'
import { NotFoundError, NotInTreeError } from '../../../errors.js'
import type { EventStore } from '../events/event-store.js'
import type { Checkpoints } from './checkpoints.js'
import { TreeSizeError, type MerkleTrees, type TreeView } from './tree.js'
import { toPublicEvent } from '../events/record.js'
import { leafDocument } from '../../../verifier/leaf.js'

export interface InclusionProof { seq: number, leaf_hash: string, tree_size: number, audit_path: string[] }
/** An event's proof also shows its leaf document: what the proven hash covers, its schema_version included. */
export interface EventProof extends InclusionProof { leaf?: Record<string, unknown> }
export interface ConsistencyProof { from: number, to: number, proof: string[] }
export interface TileAnswer { level: number, index: number, width: number, hashes: string[] }

/**
 * What a tenant's tree can prove, read from tiles, heads and checkpoints by key: never from the event
 * log, except the one lookup of an event by id that `GET /events/{id}/proof` needs to learn its seq.
 */
export class Proofs {
  /** How long a wait for a covering checkpoint lasts: a few signing intervals, 1 to 30 s. */
  readonly coverWaitMs: number

  constructor (
    private readonly trees: MerkleTrees,
    private readonly checkpoints: Checkpoints,
    private readonly events: EventStore,
    checkpointIntervalMs = 2000
  ) {
    this.coverWaitMs = Math.min(30_000, Math.max(1_000, 5 * checkpointIntervalMs))
  }

  async checkpoint (tenant: string, size?: number): Promise<Checkpoint> {
    const checkpoint = size === undefined ? await this.checkpoints.newest(tenant) : await this.checkpoints.at(tenant, size)
    if (checkpoint === null) {
      throw new NotFoundError(
        size === undefined ? 'A checkpoint of your tenant (none is signed before its first event)' : `A checkpoint of tree size ${size}`
      )
    }
    return checkpoint
  }

  /**
   * The newest checkpoint once it covers `minSize` seqs, waiting (at most `coverWaitMs`, cut short when the client
   * goes away) for the signer to catch up: one small read by key every CHECKPOINT_POLL_MS.
   */
  async checkpointCovering (tenant: string, minSize: number, signal?: AbortSignal | null): Promise<Checkpoint> {
    const deadline = Date.now() + this.coverWaitMs
    for (;;) {
      const newest = await this.checkpoints.newest(tenant)
      if (newest !== null && newest.tree_size >= minSize) return newest
      if (Date.now() >= deadline || signal?.aborted === true) {
        throw new NotFoundError(`A checkpoint covering tree size ${minSize} (the newest covers ${newest?.tree_size ?? 0}; retry)`)
      }
      await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_POLL_MS))
    }
  }

  /** The audit path of `seq` in the tree of `size`, by default the newest checkpoint's. */
  async inclusion (tenant: string, seq: number, size?: number): Promise<InclusionProof> {
    const treeSize = size ?? (await this.checkpoint(tenant)).tree_size
    if (seq > treeSize) throw new NotInTreeError(`seq ${seq} is not in the tree of size ${treeSize}`)
    return await this.within(tenant, async (tree) => ({
      seq,
      leaf_hash: (await tree.leaf(seq - 1)).toString('hex'),
      tree_size: treeSize,
      audit_path: hex(await tree.inclusionProof(seq - 1, treeSize))
    }))
  }

  async inclusionOfEvent (tenant: string, id: string, size?: number, signal?: AbortSignal): Promise<EventProof> {
    const event = await this.events.findById(tenant, id, signal)
    if (event === null) throw new NotFoundError('Event')
    const proof = await this.inclusion(tenant, event.seq, size)
    try {
      return { ...proof, leaf: leafDocument(toPublicEvent(event)) }
    } catch {
      // an event whose stored fields make no leaf (its erasure record is broken): the proof stands, the client's check fails
      return proof
    }
  }

  async consistency (tenant: string, from: number, to: number): Promise<ConsistencyProof> {
    return await this.within(tenant, async (tree) => ({ from, to, proof: hex(await tree.consistencyProof(from, to)) }))
  }

  async tile (tenant: string, level: number, index: number): Promise<TileAnswer> {
    return await this.within(tenant, async (tree) => {
      const { hashes } = await tree.tile(level, index)
      return { level, index, width: hashes.length, hashes: hex(hashes) }
    })
  }

  private async within<T> (tenant: string, read: (tree: TreeView) => Promise<T>): Promise<T> {
    try {
      return await read(await this.trees.view(tenant))
    } catch (err) {
      if (err instanceof TreeSizeError) throw new NotInTreeError(err.message)
      throw err
    }
  }
}

function hex (hashes: Buffer[]): string[] {
  return hashes.map((hash) => hash.toString('hex'))
}

/** How often a wait for a covering checkpoint looks again: a fraction of the shortest sensible interval. */
const CHECKPOINT_POLL_MS = 100
