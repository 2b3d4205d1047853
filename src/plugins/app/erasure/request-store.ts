import type { Collection, Db } from 'mongodb'
import type { ErasureInput, ErasureRequestView, ErasureState } from '../../../schemas/erasure.js'
import { ensureIndexes } from '../storage/indexes.js'
import { requestIdOf, ruleOf, type MatchValue, type StoredRule } from './rule.js'
import { insertUnique } from '../storage/duplicate-key.js'
import { VersionedRecords } from '../storage/versioned-records.js'

/** Progress records older than the newest few are deleted: each carries the totals so far. */
const PROGRESS_KEPT = 3

/**
 * An erasure request as stored. Written once by the route; afterwards only the worker holding the lease
 * touches it, once, when done: it then drops the value, so nothing in the database still names the subject.
 */
export interface ErasureRequestDoc {
  _id: string
  tenant: string
  requested_by: string
  requested_at: Date
  reason: string
  rule: StoredRule
  fields: string[] | null
  /** The value matched, only until the request is done. */
  value?: MatchValue
  done_at?: Date
}

/**
 * Progress, insert-only (FerretDB 1.24 loses concurrent updates of one document): record `n` of a request
 * has `_id` `request:n`, so two replicas can never both record the same step. Each carries the totals.
 */
export interface ErasureProgressDoc {
  _id: string
  request: string
  n: number
  /** Events up to this seq are covered: those settled when the request started. */
  through: number
  matched: number
  /** Every matching event up to this seq is erased. */
  after_seq: number
  erased: number
  done: boolean
  at: Date
}

/** The erasure requests of every tenant and their progress. */
export class ErasureRequests {
  readonly requests: Collection<ErasureRequestDoc>
  readonly progress: VersionedRecords<ErasureProgressDoc>

  constructor (db: Db, private readonly idKey: Buffer) {
    this.requests = db.collection<ErasureRequestDoc>('erasure_requests')
    this.progress = new VersionedRecords(db.collection<ErasureProgressDoc>('erasure_progress'), ['n'])
  }

  private indexed: Promise<void> | undefined

  /**
   * Made with the first request rather than at every start: a deployment that never erases gets no
   * collections (on FerretDB, collections made at boot slowed the event scans; the webhooks do the same).
   */
  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.requests, [{ key: { tenant: 1, requested_at: -1 }, name: 'tenant_requested' }])
    await ensureIndexes(this.progress.collection, [{ key: { request: 1, n: -1 }, name: 'request_step' }])
  }

  /** The request as `submit` would store it: its id says whether an identical one exists. */
  prepare (tenant: string, by: string, input: ErasureInput, now: Date): ErasureRequestDoc {
    const { rule, value } = ruleOf(input)
    const doc: ErasureRequestDoc = {
      _id: requestIdOf(this.idKey, tenant, input),
      tenant,
      requested_by: by,
      requested_at: now,
      reason: input.reason,
      rule,
      fields: input.fields ?? null
    }
    if (value !== undefined) doc.value = value
    return doc
  }

  /** Stores a prepared request, or finds the identical one already made (same id): `created` says which. */
  async submit (doc: ErasureRequestDoc): Promise<{ created: boolean, request: ErasureRequestDoc }> {
    // a failure is not kept: the next request tries again
    this.indexed ??= this.ensureIndexes().catch((err: unknown) => { this.indexed = undefined; throw err })
    await this.indexed
    if (await insertUnique(this.requests, doc)) return { created: true, request: doc }
    const existing = await this.requests.findOne({ _id: doc._id })
    /* c8 ignore next -- requests are never deleted, so the one that took the id is there */
    if (existing === null) throw new Error(`erasure request ${doc._id} collided with one that is not there`)
    return { created: false, request: existing }
  }

  async get (tenant: string, id: string): Promise<ErasureRequestDoc | null> {
    return await this.requests.findOne({ _id: id, tenant })
  }

  async list (tenant: string, limit: number): Promise<ErasureRequestDoc[]> {
    return await this.requests.find({ tenant }).sort({ requested_at: -1, _id: 1 }).limit(limit).toArray()
  }

  /** Requests not done yet, oldest first: what the worker has to do. A small collection, read whole. */
  async unfinished (): Promise<ErasureRequestDoc[]> {
    return await this.requests.find({ done_at: { $exists: false } }).sort({ requested_at: 1, _id: 1 }).toArray()
  }

  async latestProgress (request: string): Promise<ErasureProgressDoc | undefined> {
    return await this.progress.newest({ request })
  }

  /** Records a step; false when another replica recorded it first (this one then stops). */
  async record (step: ErasureProgressDoc): Promise<boolean> {
    if (!await this.progress.append(step)) return false
    if (step.n >= PROGRESS_KEPT) await this.progress.pruneBefore({ request: step.request }, { n: step.n - PROGRESS_KEPT + 1 })
    return true
  }

  /** The request is done: its value goes, only the rule's kind and path and the keyed id stay. */
  async finish (request: ErasureRequestDoc, at: Date): Promise<void> {
    await this.requests.updateOne({ _id: request._id }, { $set: { done_at: at }, $unset: { value: '' } })
  }

  /** What the API shows: never the value. */
  view (request: ErasureRequestDoc, progress: ErasureProgressDoc | undefined, held: boolean): ErasureRequestView {
    const done = request.done_at !== undefined || progress?.done === true
    const state: ErasureState = done ? 'done' : held ? 'waiting_for_legal_hold' : 'running'
    const match: ErasureRequestView['match'] = { kind: request.rule.kind }
    if (request.rule.path !== undefined) match.path = request.rule.path
    if (request.rule.event_ids !== undefined) match.event_ids = request.rule.event_ids
    return {
      id: request._id,
      state,
      requested_by: request.requested_by,
      requested_at: request.requested_at.toISOString(),
      reason: request.reason,
      match,
      fields: request.fields,
      through_seq: progress?.through ?? null,
      matched: progress?.matched ?? null,
      erased: progress?.erased ?? 0,
      remaining: progress === undefined ? null : done ? 0 : Math.max(0, progress.matched - progress.erased),
      done_at: done ? (request.done_at ?? progress?.at ?? request.requested_at).toISOString() : null
    }
  }
}
