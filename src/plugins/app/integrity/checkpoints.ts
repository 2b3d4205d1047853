import type { Collection, Db } from 'mongodb'
import type { FastifyBaseLogger } from 'fastify'
import { checkpointMessage, type Checkpoint } from '../../../verifier/checkpoint.js'
import { insertIgnoringDuplicates } from '../storage/duplicate-key.js'
import type { SigningKeys } from './signing-key.js'
import type { MerkleTrees, TreeHead } from './tree.js'
import { VersionedRecords } from '../storage/versioned-records.js'

type CheckpointDoc = Checkpoint & { _id: string }

/**
 * Signed checkpoints of every tenant's tree. One per tree size at most, whatever the number of replicas:
 * its `_id` is `tenant:size`, and the tree of a size is the same on every replica (built from the same
 * leaves), so a second signer can only collide with the first, never sign another root for that size.
 *
 * All checkpoints are kept in `merkle_checkpoints`, which grows with time; the newest of each tenant is
 * also in `merkle_checkpoint_heads`, pruned to the newest, so "the latest" is a small read on FerretDB too.
 */
export class Checkpoints {
  readonly history: Collection<CheckpointDoc>
  readonly latest: VersionedRecords<CheckpointDoc>

  constructor (
    db: Db,
    private readonly trees: MerkleTrees,
    private readonly keys: SigningKeys,
    private readonly intervalMs: number,
    private readonly log?: FastifyBaseLogger
  ) {
    this.history = db.collection<CheckpointDoc>('merkle_checkpoints')
    this.latest = new VersionedRecords(db.collection<CheckpointDoc>('merkle_checkpoint_heads'), ['tree_size'])
  }

  async ensureIndexes (): Promise<void> {
    await this.latest.collection.createIndex({ tenant: 1, tree_size: -1 }, { name: 'tenant_size' })
  }

  async newest (tenant: string): Promise<Checkpoint | null> {
    const doc = await this.latest.newest({ tenant })
    return doc === undefined ? null : withoutId(doc)
  }

  async at (tenant: string, size: number): Promise<Checkpoint | null> {
    const doc = await this.history.findOne({ _id: checkpointId(tenant, size) })
    return doc === null ? null : withoutId(doc)
  }

  /**
   * Signs the newest tree of every tenant whose last checkpoint is older than the interval and smaller
   * than its tree: an event is in a signed checkpoint within about CHECKPOINT_INTERVAL_MS of being folded.
   */
  async signDue (now = Date.now()): Promise<void> {
    const newest = await this.latest.newestOfEach('tenant')
    for (const head of await this.trees.allHeads()) {
      const previous = newest.get(head.tenant)
      if (previous !== undefined && (previous.tree_size >= head.size || now - Date.parse(previous.issued_at) < this.intervalMs)) continue
      await this.sign(head, previous, now)
    }
  }

  private async sign (head: TreeHead, previous: Checkpoint | undefined, now: number): Promise<void> {
    // the tree only grows: a head whose tree does not contain the last signed one is never signed
    if (
      previous !== undefined &&
      !(await (await this.trees.view(head.tenant)).root(previous.tree_size)).equals(Buffer.from(previous.root_hash, 'hex'))
    ) {
      this.log?.error(
        { tenant: head.tenant, size: head.size, previous: previous.tree_size },
        'the stored tree is not consistent with its last checkpoint; not signing it (was the database changed?)'
      )
      return
    }
    const unsigned = {
      tenant: head.tenant,
      tree_size: head.size,
      root_hash: head.root.toString('hex'),
      issued_at: new Date(now).toISOString()
    }
    const checkpoint: Checkpoint = { ...unsigned, key_id: this.keys.current.key_id, signature: this.keys.sign(checkpointMessage(unsigned)) }
    const doc = { _id: checkpointId(head.tenant, head.size), ...checkpoint }
    await insertIgnoringDuplicates(this.history, [doc])
    await this.latest.append(doc)
    await this.latest.pruneBefore({ tenant: head.tenant }, { tree_size: head.size })
  }
}

function checkpointId (tenant: string, size: number): string {
  return `${tenant}:${size}`
}

function withoutId ({ _id, ...checkpoint }: CheckpointDoc): Checkpoint {
  return checkpoint
}
