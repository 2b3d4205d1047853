import { ObjectId, type Collection, type Db } from 'mongodb'
import type { WebhookFilter } from '../../../schemas/webhook.js'
import { ensureIndexes } from '../storage/indexes.js'
import { VersionedRecords } from '../storage/versioned-records.js'

/** A subscription as an admin made it. Its delivery state lives apart, in insert-only progress records. */
export interface StoredSubscription {
  _id: ObjectId
  tenant: string
  url: string
  filter: WebhookFilter
  description?: string
  secret: string
  created_at: Date
  updated_at: Date
}

/**
 * Where a subscription's delivery stands. Never updated in place: FerretDB 1.24 loses concurrent updates of
 * one document, and the delivering replica and an admin may write at once. Each record is inserted under a
 * unique `_id` of (subscription, epoch, n); the current one is the highest. The deliverer writes n+1 in its
 * epoch, so two deliverers colliding learn it from the unique key; an admin's resume or pause starts a new
 * epoch, which outranks whatever a deliverer still writes in the old one.
 */
export interface ProgressRecord {
  _id: string
  sub: string
  epoch: number
  n: number
  /** The last seq delivered (or passed over by the filter). */
  through: number
  state: 'active' | 'paused'
  failures: number
  last_error?: { message: string, at: Date }
  at: Date
}

/** One term of a subscription's delivery lease: the replica that inserted term k+1 delivers until `expires_at`. */
export interface LeaseRecord {
  _id: string
  sub: string
  term: number
  holder: string
  expires_at: Date
}

export interface Lease { sub: string, term: number, expiresAt: number }

export class SubscriptionStore {
  readonly subscriptions: Collection<StoredSubscription>
  readonly progress: VersionedRecords<ProgressRecord>
  readonly leases: VersionedRecords<LeaseRecord>
  private indexed: Promise<void> | undefined

  constructor (db: Db) {
    this.subscriptions = db.collection<StoredSubscription>('webhook_subscriptions')
    this.progress = new VersionedRecords(db.collection<ProgressRecord>('webhook_progress'), ['epoch', 'n'])
    this.leases = new VersionedRecords(db.collection<LeaseRecord>('webhook_leases'), ['term'])
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.subscriptions, [{ key: { tenant: 1, created_at: 1 }, name: 'tenant_created' }])
    await ensureIndexes(this.progress.collection, [{ key: { sub: 1, epoch: -1, n: -1 }, name: 'sub_epoch_n' }])
    await ensureIndexes(this.leases.collection, [{ key: { sub: 1, term: -1 }, name: 'sub_term' }])
  }

  async create (doc: StoredSubscription, startAfter: number): Promise<ProgressRecord> {
    // made with the first subscription, not at startup: on FerretDB 1.24 creating these collections at every
    // boot slowed the event scans that followed (20 concurrent reads of GET /events then ran over their time limit)
    this.indexed ??= this.ensureIndexes().catch((err: unknown) => {
      this.indexed = undefined
      throw err
    })
    await this.indexed
    await this.subscriptions.insertOne(doc)
    const progress = record(doc._id.toHexString(), 0, 0, { through: startAfter, state: 'active', failures: 0 })
    await this.progress.collection.insertOne(progress)
    return progress
  }

  async list (tenant: string): Promise<StoredSubscription[]> {
    return await this.subscriptions.find({ tenant }).sort({ created_at: 1 }).toArray()
  }

  /** How many subscriptions the tenant has (WEBHOOK_MAX_PER_TENANT bounds it). */
  async count (tenant: string): Promise<number> {
    return await this.subscriptions.countDocuments({ tenant })
  }

  /** Every subscription, of every tenant: the dispatcher's scan (a small collection). */
  async all (): Promise<StoredSubscription[]> {
    return await this.subscriptions.find({}).toArray()
  }

  async get (tenant: string | undefined, id: string): Promise<StoredSubscription | null> {
    if (!ObjectId.isValid(id) || id.length !== 24) return null
    return await this.subscriptions.findOne(tenant === undefined ? { _id: new ObjectId(id) } : { _id: new ObjectId(id), tenant })
  }

  async update (tenant: string, id: string, changes: Partial<Pick<StoredSubscription, 'url' | 'filter' | 'description'>>): Promise<void> {
    await this.subscriptions.updateOne({ _id: new ObjectId(id), tenant }, { $set: { ...changes, updated_at: new Date() } })
  }

  async delete (tenant: string, id: string): Promise<boolean> {
    const { deletedCount } = await this.subscriptions.deleteOne({ _id: new ObjectId(id), tenant })
    if (deletedCount === 0) return false
    await this.progress.collection.deleteMany({ sub: id })
    await this.leases.collection.deleteMany({ sub: id })
    return true
  }

  async current (sub: string): Promise<ProgressRecord | null> {
    return (await this.progress.newest({ sub })) ?? null
  }

  /** The deliverer's next record in its epoch; false when another writer took that place (the deliverer has been superseded). */
  async advance (
    previous: ProgressRecord,
    next: Pick<ProgressRecord, 'through' | 'state' | 'failures' | 'last_error'>
  ): Promise<ProgressRecord | null> {
    const written = record(previous.sub, previous.epoch, previous.n + 1, next)
    if (!(await this.progress.append(written))) return null
    // the two newest stay: the current one, and the one a concurrent reader may just have read; pruned every
    // PRUNE_EVERY records, not at each (on FerretDB a delete costs as much as the insert)
    if (written.n % PRUNE_EVERY === 0) await this.progress.pruneBefore({ sub: previous.sub }, { epoch: written.epoch, n: written.n - 1 })
    return written
  }

  /** An admin's resume or pause: a new epoch, which outranks whatever a deliverer still writes in the old one. */
  async restart (sub: string, change: { through?: number; state: 'active' | 'paused' }): Promise<ProgressRecord> {
    for (;;) {
      const current = await this.current(sub)
      const written = record(sub, (current?.epoch ?? 0) + 1, 0, {
        through: change.through ?? current?.through ?? 0,
        state: change.state,
        failures: change.state === 'active' ? 0 : (current?.failures ?? 0),
        last_error: current?.last_error
      })
      // two admins at once: the loser reads the winner's epoch and goes after it
      if (await this.progress.append(written)) return written
    }
  }

  /**
   * Takes or renews the subscription's lease for `holder`: a free lease (none, expired, or the holder's own)
   * is taken by inserting the next term, so of two replicas trying at once exactly one succeeds.
   */
  async acquire (sub: string, holder: string, leaseMs: number, now = Date.now()): Promise<Lease | null> {
    const newest = await this.leases.newest({ sub })
    if (newest !== undefined && newest.holder !== holder && newest.expires_at.getTime() > now) return null
    const term = (newest?.term ?? 0) + 1
    const expiresAt = now + leaseMs
    if (!(await this.leases.append({ _id: `${sub}:${term}`, sub, term, holder, expires_at: new Date(expiresAt) }))) return null
    await this.leases.pruneBefore({ sub }, { term: term - 1 })
    return { sub, term, expiresAt }
  }

  /** Gives the lease up at shutdown: another replica takes over without waiting for it to lapse. */
  async release (lease: Lease, holder: string): Promise<void> {
    await this.leases.append({
      _id: `${lease.sub}:${lease.term + 1}`,
      sub: lease.sub,
      term: lease.term + 1,
      holder: `released-by-${holder}`,
      expires_at: new Date(0)
    })
  }
}

/** Progress records a subscription keeps at most, in its epoch: older ones are deleted as a new one is written every this many. */
const PRUNE_EVERY = 16

function record (
  sub: string,
  epoch: number,
  n: number,
  fields: Pick<ProgressRecord, 'through' | 'state' | 'failures' | 'last_error'>
): ProgressRecord {
  const doc: ProgressRecord = {
    _id: `${sub}:${epoch}:${n}`,
    sub,
    epoch,
    n,
    through: fields.through,
    state: fields.state,
    failures: fields.failures,
    at: new Date()
  }
  if (fields.last_error !== undefined) doc.last_error = fields.last_error
  return doc
}
