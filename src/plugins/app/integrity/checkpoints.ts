import type { Collection, Db } from 'mongodb'
import type { FastifyBaseLogger } from 'fastify'
import { checkSignature, type Checkpoint } from '../../../verifier/checkpoint.js'
import { formatCheckpointText, logOrigin } from '../../../verifier/tlog-checkpoint.js'
import { insertIgnoringDuplicates } from '../storage/duplicate-key.js'
import type { SigningKeys } from './signing-key.js'
import type { MerkleTrees, TreeHead } from './tree.js'
import type { SignedHead, SignerState } from './signer-state.js'
import type { IntegrityAlarm, IntegrityViolation } from './integrity-alarm.js'
import { verifyConsistency } from '../../../verifier/merkle.js'
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
  /** Per tenant, when this replica first saw a newest checkpoint whose issued_at was ahead of its clock (see age). */
  private readonly firstSeen = new Map<string, { size: number, at: number }>()

  constructor (
    db: Db,
    private readonly trees: MerkleTrees,
    private readonly keys: SigningKeys,
    private readonly signer: SignerState,
    private readonly alarm: IntegrityAlarm,
    private readonly intervalMs: number,
    /** AUDIT_LOG_ORIGIN: a tenant's log is `<origin>/<tenant>` (tlog-checkpoint.ts). */
    private readonly origin: string,
    private readonly log?: FastifyBaseLogger
  ) {
    this.history = db.collection<CheckpointDoc>('merkle_checkpoints')
    this.latest = new VersionedRecords(db.collection<CheckpointDoc>('merkle_checkpoint_heads'), ['tree_size'])
  }

  async ensureIndexes (): Promise<void> {
    await this.latest.collection.createIndex({ tenant: 1, tree_size: -1 }, { name: 'tenant_size' })
  }

  /** The C2SP origin of the tenant's log: its checkpoints' first line and their signing key's name. */
  originOf (tenant: string): string {
    return logOrigin(this.origin, tenant)
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
   * Says whether any tree was unsigned: signed now, or waiting for its interval.
   */
  async signDue (now = Date.now()): Promise<boolean> {
    const newest = await this.latest.newestOfEach('tenant')
    let unsigned = false
    for (const head of await this.trees.allHeads()) {
      if (this.alarm.isRaised(head.tenant)) continue
      const previous = newest.get(head.tenant)
      if (previous?.tree_size === head.size) continue
      unsigned = true
      // a stored checkpoint larger than the tree is no reason to wait: sign() finds the contradiction
      if (previous !== undefined && this.age(previous, now) < this.intervalMs) continue
      await this.sign(head, previous, now)
    }
    return unsigned
  }

  /**
   * How long ago the checkpoint was signed, by this replica's clock. An issued_at ahead of that clock (another
   * replica's clock runs ahead) says nothing about it: such a checkpoint is counted from when this replica first
   * saw it, so it delays the next one by an interval at most, never until this clock catches up. Replicas need
   * not agree on time; how far they disagree is reported by storage/clock-skew.ts.
   */
  private age (previous: Checkpoint, now: number): number {
    const issued = Date.parse(previous.issued_at)
    if (Number.isFinite(issued) && issued <= now) return now - issued
    const seen = this.firstSeen.get(previous.tenant)
    if (seen !== undefined && seen.size === previous.tree_size) return now - seen.at
    this.firstSeen.set(previous.tenant, { size: previous.tree_size, at: now })
    return 0
  }

  private async sign (head: TreeHead, previous: Checkpoint | undefined, now: number): Promise<void> {
    const root = head.root.toString('hex')
    // decided alone among the replicas that share the signer's record, and recorded (flushed) before it is signed
    const signable = await this.signer.exclusively(async () => {
      // a record started after checkpoints were (an upgrade) begins from the newest one the key really signed
      const recorded = this.signer.lastSigned(head.tenant) ?? this.genuine(previous)
      const contradiction = await this.contradiction(head, recorded)
      if (contradiction !== undefined) {
        this.alarm.raise(contradiction)
        return { append: [], result: false }
      }
      return { append: [this.signer.checkpointFact(head.tenant, { size: head.size, root })], result: true }
    })
    if (!signable) return
    // a C2SP signed note (tlog-checkpoint): what witnesses and Go's sumdb/note read; issued_at is beside it, unsigned
    const text = formatCheckpointText({ origin: this.originOf(head.tenant), size: head.size, root: head.root })
    const { note, signature } = this.keys.signNote(text)
    const checkpoint: Checkpoint = {
      tenant: head.tenant,
      tree_size: head.size,
      root_hash: root,
      issued_at: new Date(now).toISOString(),
      key_id: this.keys.current.key_id,
      signature,
      note
    }
    const doc = { _id: checkpointId(head.tenant, head.size), ...checkpoint }
    await insertIgnoringDuplicates(this.history, [doc])
    await this.latest.append(doc)
    await this.latest.pruneBefore({ tenant: head.tenant }, { tree_size: head.size })
  }

  /** A stored checkpoint as a signed head, if the service's key really signed it (the database is not trusted for that). */
  private genuine (checkpoint: Checkpoint | undefined): SignedHead | undefined {
    if (checkpoint === undefined || checkSignature(checkpoint, this.keys.published) !== 'ok') return undefined
    return { size: checkpoint.tree_size, root: checkpoint.root_hash }
  }

  /**
   * Why the stored tree must not be signed, given the newest checkpoint the signer recorded: the tree only
   * grows, a size is never signed with a second root, and a larger tree must prove (with the verifier's own
   * check) that it extends the recorded one. The proof's hashes come from the database, which is fine: no
   * rewritten history can produce a consistency proof to a root it did not extend.
   */
  private async contradiction (head: TreeHead, recorded: SignedHead | undefined): Promise<Omit<IntegrityViolation, 'code' | 'detected_at'> | undefined> {
    if (recorded === undefined) return undefined
    const found = { tenant: head.tenant, signed_size: recorded.size, database_size: head.size }
    if (head.size < recorded.size) {
      return { ...found, message: `the stored tree has ${head.size} leaves, fewer than the ${recorded.size} already signed: the log was cut back` }
    }
    const root = head.root.toString('hex')
    if (head.size === recorded.size) {
      return root === recorded.root ? undefined : { ...found, message: `the stored tree of size ${head.size} has another root than the one signed` }
    }
    let consistent = false
    try {
      const proof = await (await this.trees.view(head.tenant)).consistencyProof(recorded.size, head.size)
      consistent = verifyConsistency(recorded.size, head.size, Buffer.from(recorded.root, 'hex'), head.root, proof)
    } catch (err) {
      this.log?.warn({ err, tenant: head.tenant }, 'could not build the consistency proof from the stored tree')
    }
    return consistent
      ? undefined
      : { ...found, message: `the stored tree of size ${head.size} does not extend the tree of size ${recorded.size} already signed: history was rewritten` }
  }
}

function checkpointId (tenant: string, size: number): string {
  return `${tenant}:${size}`
}

function withoutId ({ _id, ...checkpoint }: CheckpointDoc): Checkpoint {
  return checkpoint
}
