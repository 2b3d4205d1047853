import type { FastifyBaseLogger } from 'fastify'
import type { SettledWatch } from '../streaming/settled-watch.js'
import type { FollowedEvent } from '../streaming/settled-tail.js'
import type { AddressPolicy } from './address-policy.js'
import type { DeliveryBudget } from './delivery-budget.js'
import { retryDelay, type Clock } from './clock.js'
import { send } from './sender.js'
import { sign } from './signature.js'
import { filterQuery } from './filter-query.js'
import type { Lease, ProgressRecord, StoredSubscription, SubscriptionStore } from './subscription-store.js'

export interface DeliveryOptions {
  batchMax: number
  timeoutMs: number
  retryBaseMs: number
  retryMaxMs: number
  maxFailures: number
  leaseMs: number
  /** How long an idle worker waits for new events before it looks at its subscription again. */
  idleMs: number
}

export interface DeliveryContext {
  store: SubscriptionStore
  watch: SettledWatch
  policy: AddressPolicy
  /** The tenant's turns: its workers' reads and POSTs at once are bounded per tenant (WEBHOOK_DELIVERIES_PER_TENANT). */
  budget: DeliveryBudget
  /** Admits a read from the database (the scan admission, shared with the tenant's queries); none in tests of a bare worker. */
  admitRead?: (tenant: string, signal: AbortSignal) => Promise<() => void>
  clock: Clock
  holder: string
  options: DeliveryOptions
  log: FastifyBaseLogger
}

/**
 * Delivers one subscription while this replica holds its lease: the matching events after the recorded
 * position, in seq order, in POSTs of up to batchMax, each retried until a 2xx (at least once: a delivery
 * whose 2xx was lost is sent again, under the same Audit-Webhook-Id). The position is recorded after each
 * success, so a restart or another replica continues from it.
 */
export class DeliveryWorker {
  private readonly stopping = new AbortController()
  private lease: Lease
  private readonly renewal: NodeJS.Timeout
  readonly done: Promise<void>

  constructor (
    private readonly ctx: DeliveryContext,
    readonly sub: string,
    lease: Lease
  ) {
    this.lease = lease
    this.renewal = setInterval(
      () => {
        this.renew().catch(() => {})
      },
      Math.max(50, Math.floor(ctx.options.leaseMs / 3))
    ).unref()
    this.done = this.run()
      .catch((err: unknown) => ctx.log.warn({ err, sub }, 'webhook delivery stopped'))
      .finally(() => clearInterval(this.renewal))
  }

  /**
   * Stops after the attempt in flight; gives the lease back when `release` (shutdown), so another replica need not
   * wait for it to lapse.
   */
  async stop (release: boolean): Promise<void> {
    this.stopping.abort()
    await this.done
    if (release) await this.ctx.store.release(this.lease, this.ctx.holder).catch(() => {})
  }

  private get active (): boolean {
    return !this.stopping.signal.aborted && Date.now() < this.lease.expiresAt
  }

  private async renew (): Promise<void> {
    if (this.stopping.signal.aborted) return
    const renewed = await this.ctx.store.acquire(this.sub, this.ctx.holder, this.ctx.options.leaseMs)
    if (renewed === null) this.stopping.abort()
    else this.lease = renewed
  }

  private async run (): Promise<void> {
    const { store } = this.ctx
    const first = await store.get(undefined, this.sub)
    if (first === null) return
    const tenant = first.tenant
    let settled = 0
    let wake: (() => void) | undefined
    // where the mark stands, then every rise of it
    const stopFollowing = await this.ctx.watch.followFromNow(tenant, (through) => {
      settled = Math.max(settled, through)
      wake?.()
    })
    this.stopping.signal.addEventListener('abort', () => wake?.(), { once: true })
    try {
      let position: { epoch: number; through: number } | undefined
      let subscription: StoredSubscription | null = null
      let readInEpoch = -1
      while (this.active) {
        // an admin's change is read before every delivery, so it takes effect at the next one and a pause
        // during a retry's backoff is never written over: a pause, a resume and a delete in the progress
        // record (one small read), and a PATCH starts a new epoch of it, the sign to read the subscription again
        // in the tenant's turn too: every worker of a tenant polls this record, and on FerretDB a read scans
        const progress = await this.ctx.budget.run(tenant, this.stopping.signal, async () => await store.current(this.sub))
        if (progress === undefined || progress === null || progress.state === 'paused') return
        if (subscription === null || progress.epoch !== readInEpoch) {
          subscription = await store.get(undefined, this.sub)
          if (subscription === null) return
          readInEpoch = progress.epoch
        }
        // an admin's resume moved the position: start from it; else continue past what the filter skipped
        if (position === undefined || position.epoch !== progress.epoch || position.through < progress.through) {
          position = { epoch: progress.epoch, through: progress.through }
        }
        const from = position.through
        const filter = filterQuery(subscription.filter)
        const admit = this.ctx.admitRead
        const read = await this.ctx.budget
          .run(tenant, this.stopping.signal, async () =>
            await this.ctx.watch.readAfter(tenant, filter, from, settled, this.ctx.options.batchMax,
              admit === undefined ? undefined : async () => await admit(tenant, this.stopping.signal)))
          // stopped while the read waited for its turn: nothing failed
          .catch((err: unknown) => { if (this.stopping.signal.aborted) return undefined; throw err })
        if (read === undefined) return
        const { events, reached } = read
        if (events.length === 0) {
          position.through = reached
          await new Promise<void>((resolve) => {
            wake = resolve
            const timer = setTimeout(resolve, this.ctx.options.idleMs)
            timer.unref()
            if (!this.active || settled > position!.through) resolve()
          })
          wake = undefined
          continue
        }
        const delivered = await this.deliver(tenant, subscription, progress, events, reached)
        if (delivered === null) return
        // eslint-disable-next-line require-atomic-updates -- position is this loop's alone: no callback writes it
        position = { epoch: delivered.epoch, through: delivered.through }
      }
    } finally {
      stopFollowing()
    }
  }

  /** One delivery, retried until it succeeds, the subscription pauses, or this replica stops delivering it. */
  private async deliver (
    tenant: string,
    subscription: StoredSubscription,
    progress: ProgressRecord,
    events: readonly FollowedEvent[],
    reached: number
  ): Promise<ProgressRecord | null> {
    const { options, clock, store } = this.ctx
    const firstSeq = (events[0] as FollowedEvent).seq
    const lastSeq = (events[events.length - 1] as FollowedEvent).seq
    // the same id on every attempt, and from any replica: a receiver drops what it already has
    const id = `${this.sub}_${firstSeq}_${lastSeq}`
    // the events' JSON as a JSON array, made once per event for every follower
    const body = `[${events.map((event) => event.json).join(',')}]`
    let current = progress
    for (;;) {
      if (!this.active) return null
      const timestamp = Math.floor(clock.now() / 1000)
      const attempt = await this.ctx.budget.run(tenant, this.stopping.signal, async () => await send(
        subscription.url,
        body,
        {
          'audit-webhook-id': id,
          'audit-webhook-timestamp': String(timestamp),
          'audit-webhook-signature': sign(subscription.secret, id, timestamp, body)
        },
        { timeoutMs: options.timeoutMs, policy: this.ctx.policy }
      ))
      if (attempt === undefined) return null
      if (attempt.ok) {
        // the filter's misses up to `reached` are passed over with it
        return await store.advance(current, {
          through: Math.max(lastSeq, reached),
          state: 'active',
          failures: 0,
          last_error: current.last_error
        })
      }
      const failures = current.failures + 1
      const paused = failures >= options.maxFailures
      const next = await store.advance(current, {
        through: current.through,
        state: paused ? 'paused' : 'active',
        failures,
        last_error: { message: attempt.error ?? 'failed', at: new Date(clock.now()) }
      })
      if (next === null || paused) {
        if (paused) this.ctx.log.warn({ sub: this.sub, failures, error: attempt.error }, 'webhook paused after repeated failures')
        return null
      }
      current = next
      await clock.sleep(retryDelay(failures, options.retryBaseMs, options.retryMaxMs), this.stopping.signal)
      // an admin may have paused, resumed elsewhere or deleted it meanwhile
      const latest = await store.current(this.sub)
      if (latest === null || latest._id !== current._id) return latest === null ? null : latest
    }
  }
}
