/**
 * How many delivery steps of one tenant run at once on this replica (WEBHOOK_DELIVERIES_PER_TENANT): a step is
 * a worker's read of the event log or one POST to its receiver. Every subscription has its own worker, so
 * without this a tenant with many subscriptions would read the database as many times at once, and other
 * tenants' queries would wait behind its webhooks. The others wait their turn here, first come first served.
 */
export class DeliveryBudget {
  private readonly running = new Map<string, number>()
  private readonly queues = new Map<string, Array<() => void>>()
  /** The most steps of one tenant seen running at once (a test and a health figure). */
  peak = 0

  constructor (readonly perTenant: number) {}

  /** Steps of the tenant running now. */
  runningFor (tenant: string): number {
    return this.running.get(tenant) ?? 0
  }

  /** Steps of the tenant waiting for their turn. */
  waitingFor (tenant: string): number {
    return this.queues.get(tenant)?.length ?? 0
  }

  /** Runs `step` in the tenant's turn; undefined, without running it, when `signal` aborts while it waits. */
  async run<T>(tenant: string, signal: AbortSignal, step: () => Promise<T>): Promise<T | undefined> {
    if (!(await this.take(tenant, signal))) return undefined
    try {
      return await step()
    } finally {
      this.give(tenant)
    }
  }

  private async take (tenant: string, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false
    if (this.runningFor(tenant) < this.perTenant) {
      this.started(tenant)
      return true
    }
    return await new Promise<boolean>((resolve) => {
      const queue = this.queues.get(tenant) ?? []
      this.queues.set(tenant, queue)
      const turn = (): void => {
        signal.removeEventListener('abort', abandon)
        this.started(tenant)
        resolve(true)
      }
      const abandon = (): void => {
        const index = queue.indexOf(turn)
        if (index >= 0) queue.splice(index, 1)
        if (queue.length === 0 && this.queues.get(tenant) === queue) this.queues.delete(tenant)
        resolve(false)
      }
      queue.push(turn)
      signal.addEventListener('abort', abandon, { once: true })
    })
  }

  private started (tenant: string): void {
    const running = this.runningFor(tenant) + 1
    this.running.set(tenant, running)
    if (running > this.peak) this.peak = running
  }

  /** The step's turn passes to the tenant's next waiter, if any. */
  private give (tenant: string): void {
    const left = this.runningFor(tenant) - 1
    if (left <= 0) this.running.delete(tenant)
    else this.running.set(tenant, left)
    const queue = this.queues.get(tenant)
    const next = queue?.shift()
    if (queue?.length === 0) this.queues.delete(tenant)
    next?.()
  }
}
