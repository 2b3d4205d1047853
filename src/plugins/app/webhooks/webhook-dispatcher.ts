import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { AddressPolicy } from './address-policy.js'
import { DeliveryBudget } from './delivery-budget.js'
import { SCAN_COSTS } from '../http/scan-admission.js'
import { systemClock, type Clock } from './clock.js'
import { DeliveryWorker, type DeliveryOptions } from './delivery-worker.js'
import { SubscriptionStore } from './subscription-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    webhookDispatcher: WebhookDispatcher
  }
}

export interface WebhookDispatcherOptions extends Omit<DeliveryOptions, 'idleMs'> {
  allowHosts: string
  /** Delivery steps (a read of the event log, a POST) of one tenant at once on this replica. */
  deliveriesPerTenant: number
  /** How often this replica looks for subscriptions nobody delivers. */
  scanMs: number
  /** Retry waits run on this clock (tests pass one they control). */
  clock?: Clock
}

/**
 * Runs on every replica: every scanMs it looks for active subscriptions whose lease is free, takes the
 * lease (one replica wins it) and starts a worker for each. A replica that dies stops renewing; its
 * leases lapse after WEBHOOK_LEASE_MS and another replica takes over from the recorded position.
 */
export class WebhookDispatcher {
  readonly holder = randomUUID()
  readonly store: SubscriptionStore
  readonly policy: AddressPolicy
  readonly budget: DeliveryBudget
  private readonly workers = new Map<string, DeliveryWorker>()
  private timer: NodeJS.Timeout | undefined
  private scanning = false
  private closed = false

  constructor (private readonly fastify: FastifyInstance, private readonly options: WebhookDispatcherOptions) {
    this.store = new SubscriptionStore(fastify.mongo.db as NonNullable<typeof fastify.mongo.db>)
    this.policy = new AddressPolicy(options.allowHosts)
    this.budget = new DeliveryBudget(options.deliveriesPerTenant)
  }

  /** Subscriptions this replica delivers now. */
  get delivering (): string[] {
    return [...this.workers.keys()]
  }

  start (): void {
    this.timer = setInterval(() => {
      this.scan().catch((err: unknown) => this.fastify.log.warn({ err }, 'webhook scan failed'))
    }, this.options.scanMs).unref()
  }

  /** Looks now (an admin created or resumed a subscription), rather than at the next tick. */
  async scan (): Promise<void> {
    if (this.scanning || this.closed) return
    this.scanning = true
    try {
      for (const subscription of await this.store.all()) {
        const sub = subscription._id.toHexString()
        if (this.workers.has(sub) || this.closed) continue
        const progress = await this.store.current(sub)
        if (progress === null || progress.state !== 'active') continue
        const lease = await this.store.acquire(sub, this.holder, this.options.leaseMs)
        if (lease === null) continue
        const worker = new DeliveryWorker({
          store: this.store,
          watch: this.fastify.settledWatch,
          policy: this.policy,
          budget: this.budget,
          // a worker behind the tail reads the database as a query does: in its tenant's turn at the scan admission
          admitRead: async (tenant, signal) =>
            await this.fastify.scanAdmission.acquire(tenant, SCAN_COSTS.followerPage, { patient: true, signal }),
          clock: this.options.clock ?? systemClock,
          holder: this.holder,
          log: this.fastify.log,
          options: { ...this.options, idleMs: this.options.scanMs }
        }, sub, lease)
        this.workers.set(sub, worker)
        worker.done.finally(() => { if (this.workers.get(sub) === worker) this.workers.delete(sub) }).catch(() => {})
      }
    } finally {
      this.scanning = false
    }
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await Promise.all([...this.workers.values()].map(async (worker) => await worker.stop(true)))
  }
}

async function webhookDispatcherPlugin (fastify: FastifyInstance, options: WebhookDispatcherOptions) {
  const dispatcher = new WebhookDispatcher(fastify, options)
  fastify.decorate('webhookDispatcher', dispatcher)
  fastify.addHook('onReady', async function startDelivering () { dispatcher.start() })
  // before the database client closes: a worker records its last position and gives its leases back
  fastify.addHook('preClose', async function stopDelivering () { await dispatcher.close() })
}

export default fp(webhookDispatcherPlugin, {
  fastify: '5.x',
  name: 'webhook-dispatcher',
  dependencies: ['event-store', 'sequencer', 'settled-watch']
})
