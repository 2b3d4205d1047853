import type { FastifyBaseLogger } from 'fastify'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Checkpoint } from '../../../../verifier/checkpoint.js'
import { findCosignature } from '../../../../verifier/cosignature.js'
import { formatSignatureLine, NoteError, parseNote } from '../../../../verifier/signed-note.js'
import type { IntegrityAlarm } from '../integrity-alarm.js'
import type { MerkleTrees } from '../tree.js'
import { addCheckpoint, type Submission } from './add-checkpoint.js'
import { logKey, type WitnessHeads } from './witness-heads.js'
import type { Witness } from './witness-list.js'
import { headVerifies, originOf, withVerifiedCosignatures, type NotedCheckpoint, type WitnessedCheckpoint } from './served-cosignatures.js'

export type { NotedCheckpoint, WitnessedCheckpoint }

/** Where each tenant's newest signed checkpoint is read from (checkpoints.ts's heads). */
export interface NewestCheckpoints {
  newestOfEach: () => Promise<Map<string, Checkpoint>>
}

/** What readiness carries for a witness that failed its last submission for some tenant. */
export interface WitnessWarning {
  code: 'WITNESS_LAGGING'
  witness: string
  message: string
  lag_entries: number
}

export interface WitnessingOptions {
  witnesses: Witness[]
  quorum: number
  timeoutMs: number
  retryBaseMs: number
  retryMaxMs: number
}

/** Per witness and tenant: what this replica knows and when it may try again. */
interface Progress {
  /** The size the witness last cosigned, as far as this replica knows (a 409 tells it). */
  witnessSize: number
  failures: number
  retryAt: number
  lastError?: string
  busy: boolean
}

/**
 * Sends every tenant's newest checkpoint to each configured witness (C2SP tlog-witness), with the consistency
 * proof from the size that witness last cosigned, and keeps the cosignatures. It runs beside the signer, never in
 * the write path: ingest does not wait for a witness, and a witness that is down is retried with backoff.
 *
 * A witness that refuses a checkpoint as inconsistent with what it cosigned before (422), or that cosigned more
 * than the log now holds, proves the log was rewritten or cut back, whatever the database and the signer's record
 * say: the integrity alarm is raised for the tenant. That is the case the signer's record cannot catch, a host
 * whose key and record were both in the attacker's hands.
 */
export class Witnessing {
  private readonly progress = new Map<string, Progress>()
  /** Per tenant, the size of its newest checkpoint, for the lag gauge. */
  private readonly newestSize = new Map<string, number>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly stopping = new AbortController()
  private readonly failures?: Counter<'witness' | 'kind'>
  private readonly cosigned?: Counter<'witness'>

  constructor (
    private readonly options: WitnessingOptions,
    private readonly heads: WitnessHeads,
    private readonly checkpoints: NewestCheckpoints,
    private readonly trees: MerkleTrees,
    private readonly alarm: IntegrityAlarm,
    private readonly log?: FastifyBaseLogger,
    registry?: Registry
  ) {
    if (registry === undefined) return
    this.failures = new Counter({
      name: 'auditlog_witness_failures_total',
      help: 'Submissions to a witness that brought no cosignature, by kind: failed (no answer, refused, 4xx/5xx), bad_cosignature, inconsistent (a 422: the alarm is raised).',
      labelNames: ['witness', 'kind'],
      registers: [registry]
    })
    this.cosigned = new Counter({
      name: 'auditlog_witness_cosignatures_total',
      help: 'Checkpoints a witness cosigned for this replica.',
      labelNames: ['witness'],
      registers: [registry]
    })
    const lag = (witness: Witness): number => this.lagOf(witness)
    const witnesses = options.witnesses
    // eslint-disable-next-line no-new -- registered on the app's registry, read at scrape time
    new Gauge({
      name: 'auditlog_witness_lag_entries',
      help: "Per witness, the most entries by which a tenant's newest checkpoint is ahead of the newest one the witness cosigned.",
      labelNames: ['witness'],
      registers: [registry],
      collect () {
        for (const witness of witnesses) this.set({ witness: witness.name }, lag(witness))
      }
    })
  }

  get enabled (): boolean {
    return this.options.witnesses.length > 0
  }

  /** One round: every tenant's newest checkpoint to every witness that has not cosigned it and is not waiting to retry. */
  async round (now = Date.now()): Promise<void> {
    if (!this.enabled) return
    const [newest, heads] = await Promise.all([this.checkpoints.newestOfEach(), this.heads.all()])
    for (const [tenant, checkpoint] of newest) {
      // checkpoints of the first format (no note) cannot be witnessed: no witness reads them
      if ((checkpoint as Partial<NotedCheckpoint>).note === undefined) continue
      this.newestSize.set(tenant, checkpoint.tree_size)
      if (this.alarm.isRaised(tenant)) continue
      const origin = originOf((checkpoint as NotedCheckpoint).note)
      if (origin === undefined) continue
      for (const witness of this.options.witnesses) {
        const state = this.stateOf(witness, tenant)
        const head = heads.get(logKey(witness.name, tenant))
        // a stored head counts only with its witness's signature: a database writer cannot make one up
        if (head !== undefined && head.size > state.witnessSize && headVerifies(origin, head, witness)) state.witnessSize = head.size
        const cosigned = head?.size === checkpoint.tree_size && head.root === checkpoint.root_hash
        if (cosigned && state.witnessSize === checkpoint.tree_size) continue
        if (state.busy || now < state.retryAt) continue
        this.track(this.submit(witness, checkpoint as NotedCheckpoint, state))
      }
    }
  }

  /** Waits for the submissions under way (tests, and a shutdown after `stop`). */
  async settled (): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight])
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    await this.settled()
  }

  /**
   * The checkpoint with every stored cosignature that verifies against its witness's configured key over this very
   * note (the database is not trusted for them), and whether they reach WITNESS_QUORUM.
   */
  async serve (checkpoint: NotedCheckpoint): Promise<WitnessedCheckpoint> {
    if (!this.enabled) return { note: checkpoint.note, witnessed: false, cosignatures: [] }
    const heads = await this.heads.at(checkpoint.tenant, checkpoint.tree_size)
    return withVerifiedCosignatures(checkpoint, heads, this.options.witnesses, this.options.quorum)
  }

  /**
   * A checkpoint as the routes answer it: a noted one with its note's verified cosignatures appended, `witnessed`
   * and who cosigned (also when no witness is configured: then it is not witnessed); one of the first format as is.
   */
  async withCosignatures<T extends Checkpoint> (checkpoint: T): Promise<T & Partial<WitnessedCheckpoint>> {
    if (checkpoint.note === undefined) return checkpoint
    return { ...checkpoint, ...await this.serve(checkpoint as T & NotedCheckpoint) }
  }

  /** A warning per witness whose last submission failed for some tenant that it lags behind. */
  get warnings (): WitnessWarning[] {
    const warnings: WitnessWarning[] = []
    for (const witness of this.options.witnesses) {
      const lag = this.lagOf(witness)
      const failing = [...this.progress.entries()].find(([key, state]) => key.startsWith(`${witness.name} `) && state.lastError !== undefined)
      if (failing === undefined || lag === 0) continue
      warnings.push({
        code: 'WITNESS_LAGGING',
        witness: witness.name,
        message: `witness ${witness.name} has not cosigned the newest checkpoints (${failing[1].lastError ?? ''}); the service's log says more`,
        lag_entries: lag
      })
    }
    return warnings
  }

  private lagOf (witness: Witness): number {
    let lag = 0
    for (const [tenant, size] of this.newestSize) {
      lag = Math.max(lag, size - (this.progress.get(logKey(witness.name, tenant))?.witnessSize ?? 0))
    }
    return lag
  }

  private stateOf (witness: Witness, tenant: string): Progress {
    const key = logKey(witness.name, tenant)
    let state = this.progress.get(key)
    if (state === undefined) {
      state = { witnessSize: 0, failures: 0, retryAt: 0, busy: false }
      this.progress.set(key, state)
    }
    return state
  }

  private track (submission: Promise<void>): void {
    this.inFlight.add(submission)
    submission.finally(() => this.inFlight.delete(submission)).catch(() => {})
  }

  /**
   * Sends the checkpoint from the size the witness is known to have cosigned; a 409 names its real size, and the
   * request is sent again from there (twice at most: a witness racing other replicas settles within that).
   */
  private async submit (witness: Witness, checkpoint: NotedCheckpoint, state: Progress): Promise<void> {
    state.busy = true
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (this.stopping.signal.aborted) return
        const old = state.witnessSize
        if (old > checkpoint.tree_size) return await this.witnessAhead(witness, checkpoint, state)
        const proof = old === 0 || old === checkpoint.tree_size
          ? []
          : await (await this.trees.view(checkpoint.tenant)).consistencyProof(old, checkpoint.tree_size)
        const request = { oldSize: old, proof, note: checkpoint.note }
        const answer = await addCheckpoint(witness, request, this.options.timeoutMs, this.stopping.signal)
        if (answer.kind !== 'conflict') return await this.settle(witness, checkpoint, state, old, answer)
        state.witnessSize = answer.size
      }
      this.fail(witness, checkpoint.tenant, state, 'failed', 'the witness answered 409 three times in a row')
    } catch (err) {
      this.fail(witness, checkpoint.tenant, state, 'failed', (err as Error).message)
    } finally {
      state.busy = false
    }
  }

  private async settle (
    witness: Witness,
    checkpoint: NotedCheckpoint,
    state: Progress,
    old: number,
    answer: Exclude<Submission, { kind: 'conflict' }>
  ): Promise<void> {
    if (answer.kind === 'failed') return this.fail(witness, checkpoint.tenant, state, 'failed', answer.message)
    if (answer.kind === 'inconsistent') {
      this.fail(witness, checkpoint.tenant, state, 'inconsistent', answer.message)
      return this.alarm.raise({
        tenant: checkpoint.tenant,
        message: `witness ${witness.name} refused the checkpoint of size ${checkpoint.tree_size} as inconsistent with the size ${old} it cosigned (${answer.message}): the log's history was rewritten`,
        signed_size: old,
        database_size: checkpoint.tree_size
      })
    }
    const text = parseNote(checkpoint.note).text
    let found
    try {
      found = findCosignature(text, parseNote(text + '\n' + answer.lines).signatures, witness.key)
    } catch (err) {
      if (!(err instanceof NoteError)) throw err
    }
    if (found === undefined) return this.fail(witness, checkpoint.tenant, state, 'bad_cosignature', 'the answer holds no valid cosignature by its key')
    await this.heads.record({
      witness: witness.name,
      tenant: checkpoint.tenant,
      size: checkpoint.tree_size,
      root: checkpoint.root_hash,
      cosignature: formatSignatureLine(found.signature),
      timestamp: found.timestamp
    })
    state.witnessSize = checkpoint.tree_size
    state.failures = 0
    state.retryAt = 0
    delete state.lastError
    this.cosigned?.inc({ witness: witness.name })
  }

  /**
   * The witness cosigned a larger tree than our newest checkpoint. Another replica may have signed a newer one since
   * this round read them (then the next round sends it); but a tree that holds fewer leaves than the witness cosigned
   * was cut back.
   */
  private async witnessAhead (witness: Witness, checkpoint: NotedCheckpoint, state: Progress): Promise<void> {
    const tree = await this.trees.head(checkpoint.tenant)
    if (tree.size >= state.witnessSize) {
      // not a failure: the checkpoint the witness already has is newer than the one this round read
      state.retryAt = Date.now() + this.options.retryBaseMs
      return
    }
    this.fail(witness, checkpoint.tenant, state, 'inconsistent', `it cosigned size ${state.witnessSize}`)
    this.alarm.raise({
      tenant: checkpoint.tenant,
      message: `witness ${witness.name} cosigned a tree of size ${state.witnessSize}, but the stored tree has ${tree.size} leaves: the log was cut back`,
      signed_size: state.witnessSize,
      database_size: tree.size
    })
  }

  /** Retried after base × 2^(failures − 1), capped, with full jitter (half to all of it), as webhooks are. */
  private fail (witness: Witness, tenant: string, state: Progress, kind: 'failed' | 'bad_cosignature' | 'inconsistent', message: string): void {
    state.failures += 1
    const delay = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** Math.min(state.failures - 1, 30))
    state.retryAt = Date.now() + delay / 2 + Math.random() * delay / 2
    // readiness is public: it says what kind of failure, never the witness's address or a connection error's details
    state.lastError = kind !== 'failed' ? kind.replace('_', ' ') : /^HTTP \d{3}|^no answer|^connection failed/.exec(message)?.[0] ?? 'failed'
    this.failures?.inc({ witness: witness.name, kind })
    this.log?.warn({ witness: witness.name, url: witness.url, tenant, kind, failures: state.failures }, `witness submission failed: ${message}`)
  }
}
