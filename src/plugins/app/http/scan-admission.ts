import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { QueryCapacityError } from '../../../errors.js'
import { errorResponses } from '../../../schemas/common.js'
import { appendOnRequest } from './route-hooks.js'

declare module 'fastify' {
  interface FastifyInstance {
    scanAdmission: ScanAdmission
  }
  interface FastifyContextConfig {
    /**
     * The route reads the event log (a scan on FerretDB): it is admitted by the admission control before it
     * runs, at `true` the cost of one plain read, or at the cost given (SCAN_COSTS).
     */
    scan?: boolean | number
  }
  interface FastifyRequest {
    /** Aborted when the client goes away before its answer is complete: a scan it started stops. */
    disconnected: AbortSignal
  }
}

/**
 * What an admitted operation costs the database, in plain reads (a page of GET /events, one event by id):
 * the units QUERY_MAX_CONCURRENT and QUERY_MAX_CONCURRENT_PER_TENANT count. An export and a completeness
 * check read the whole matching log under a time limit 60 times a plain read's, and hold their units all
 * that time. A follower (stream replay, webhook) behind the in-memory tail takes a read's units for each
 * page it reads from the database, so a replay of N pages counts as N reads, not one.
 */
export const SCAN_COSTS = { read: 1, export: 2, completeness: 2, followerPage: 1 } as const

export interface ScanAdmissionOptions {
  /** Units of reads (SCAN_COSTS) running at once on this instance. */
  perInstance: number
  /** Of those, at most this many for one tenant, so one tenant's reads cannot take them all. */
  perTenant: number
  /** How long a read waits for its turn when the instance is full, before 503 QUERY_CAPACITY; 0 refuses at once. */
  queueMs: number
}

export interface AcquireOptions {
  /** Gives up the wait when aborted (the client went away, the stream ended). */
  signal?: AbortSignal
  /**
   * A follower's read (stream replay, webhook): it waits for its turn however long, and is never refused at
   * once; a request waits at most queueMs, and is refused at once when its tenant's share is taken.
   */
  patient?: boolean
}

interface Waiter {
  tenant: string
  cost: number
  patient: boolean
  admit: (release: () => void) => void
  refuse: (err: Error) => void
}

/**
 * Admission control for reads of the event log, shared fairly between tenants. Every route marked
 * `config.scan` is admitted for its tenant at its cost before it runs, and gives its units back when its
 * answer is finished or its client goes away (an export holds them while it streams); followers' database
 * reads are admitted too. Writes never are: ingest is not slowed by reads waiting here.
 *
 * - A tenant holds at most `perTenant` units, and its requests, running and waiting, as many: beyond, a request is
 *   refused at once (503 QUERY_CAPACITY, Retry-After), so a tenant's flood costs others nothing.
 * - When the instance is full, a read waits (at most queueMs) instead of being refused. Units freed go to
 *   the waiting tenant that holds the fewest (a tenant under its share, capacity / active tenants, before
 *   one over it), tenants holding equal amounts in turn (the one served longest ago first), each tenant's
 *   reads in arrival order. A newcomer never passes a waiting read its instance units would delay.
 * - An operation costlier than a bound is admitted at the bound (alone), so no cost makes a route unusable.
 *
 * A counter in memory, per replica: each replica bounds its own load on the database.
 */
export class ScanAdmission {
  /** The routes that are admitted, as `GET /events/:id`. */
  readonly routes: string[] = []
  /** What each of them costs (SCAN_COSTS). */
  readonly costs = new Map<string, number>()
  private open = 0
  private readonly held = new Map<string, number>()
  /** Of those, the units held by requests (not followers): a tenant's flood is refused at once by these. */
  private readonly heldByRequests = new Map<string, number>()
  /** Waiting reads per tenant, in arrival order; the map's own order is not used for fairness. */
  private readonly queues = new Map<string, Waiter[]>()
  /** When each tenant was last served (a tick), for turns between tenants holding equal amounts. */
  private readonly served = new Map<string, number>()
  private tick = 0

  constructor (readonly options: ScanAdmissionOptions) {}

  /** Units held by running reads on this instance. */
  get active (): number {
    return this.open
  }

  /** Reads waiting for their turn, all tenants together. */
  get waiting (): number {
    let count = 0
    for (const queue of this.queues.values()) count += queue.length
    return count
  }

  /** Units the tenant's running reads hold. */
  heldBy (tenant: string): number {
    return this.held.get(tenant) ?? 0
  }

  /** Each active tenant's (holding or waiting) fair share of the instance, in units. */
  get fairShare (): number {
    const active = new Set([...this.held.keys(), ...this.queues.keys()])
    return this.options.perInstance / Math.max(1, active.size)
  }

  /** Admits now or throws QUERY_CAPACITY, never waits (`acquire` waits); the returned function gives the units back (once). */
  admit (tenant: string, cost: number = SCAN_COSTS.read): () => void {
    const units = this.bounded(cost)
    if (!this.canStartNow(tenant, units)) throw new QueryCapacityError()
    return this.start(tenant, units)
  }

  /**
   * Admits now, or when its turn comes; refused with QUERY_CAPACITY when the tenant's share is taken (a
   * request), or when queueMs passes first. The returned function gives the units back (once).
   */
  async acquire (tenant: string, cost: number = SCAN_COSTS.read, options: AcquireOptions = {}): Promise<() => void> {
    const units = this.bounded(cost)
    const patient = options.patient === true
    if (!patient && this.requestUnits(tenant) + units > this.options.perTenant) throw new QueryCapacityError()
    if (options.signal?.aborted === true) throw options.signal.reason
    if (!patient && this.options.queueMs === 0 && !this.canStartNow(tenant, units)) throw new QueryCapacityError()
    return await new Promise<() => void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const signal = options.signal
      const settle = (): void => {
        if (timer !== undefined) clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const waiter: Waiter = {
        tenant,
        cost: units,
        patient,
        admit: (release) => { settle(); resolve(release) },
        refuse: (err) => { settle(); reject(err) }
      }
      const onAbort = (): void => { if (this.leave(waiter)) waiter.refuse(signal?.reason as Error) }
      signal?.addEventListener('abort', onAbort, { once: true })
      if (!patient) {
        // not unref'd: a waiting read is owed an answer, and the timer is cleared when it gets one
        timer = setTimeout(() => { if (this.leave(waiter)) waiter.refuse(new QueryCapacityError()) }, this.options.queueMs)
      }
      const queue = this.queues.get(tenant) ?? []
      this.queues.set(tenant, queue)
      queue.push(waiter)
      this.dispatch()
    })
  }

  private bounded (cost: number): number {
    return Math.max(1, Math.min(cost, this.options.perTenant, this.options.perInstance))
  }

  private queued (tenant: string): number {
    return this.queues.get(tenant)?.length ?? 0
  }

  /**
   * Units of the tenant's requests, running and waiting: a request beyond its bound is refused at once. Its
   * followers' reads are not counted here (they are where units are handed out), so a query of a tenant whose
   * streams replay waits its turn among their page reads rather than being refused.
   */
  private requestUnits (tenant: string): number {
    const waiting = (this.queues.get(tenant) ?? []).reduce((sum, waiter) => sum + (waiter.patient ? 0 : waiter.cost), 0)
    return (this.heldByRequests.get(tenant) ?? 0) + waiting
  }

  private fitsTenant (tenant: string, units: number): boolean {
    return this.heldBy(tenant) + units <= this.options.perTenant
  }

  private fitsInstance (units: number): boolean {
    return this.open + units <= this.options.perInstance
  }

  /** Whether a read of this tenant would start at once (no queue ahead of it that it may not pass). */
  private canStartNow (tenant: string, units: number): boolean {
    return this.queued(tenant) === 0 && this.fitsTenant(tenant, units) && this.fitsInstance(units) && !this.anyEligibleWaiter()
  }

  /** Whether some tenant's first waiting read could take units as soon as the instance has them. */
  private anyEligibleWaiter (): boolean {
    for (const [tenant, queue] of this.queues) {
      const head = queue[0]
      if (head !== undefined && this.fitsTenant(tenant, head.cost)) return true
    }
    return false
  }

  /** Starts the reads whose turn it is: the tenant holding the fewest units first; stops at one the instance cannot fit yet. */
  private dispatch (): void {
    for (;;) {
      let next: Waiter | undefined
      for (const [tenant, queue] of this.queues) {
        const head = queue[0]
        // a tenant at its own bound waits for its own reads to finish, and holds no one else up
        if (head === undefined || !this.fitsTenant(tenant, head.cost)) continue
        if (next === undefined || this.before(tenant, next.tenant)) next = head
      }
      if (next === undefined || !this.fitsInstance(next.cost)) return
      this.leave(next)
      next.admit(this.start(next.tenant, next.cost, next.patient))
    }
  }

  /** Whether tenant `a` is served before `b`: fewer units held, else the one served longest ago. */
  private before (a: string, b: string): boolean {
    const heldA = this.heldBy(a)
    const heldB = this.heldBy(b)
    if (heldA !== heldB) return heldA < heldB
    return (this.served.get(a) ?? 0) < (this.served.get(b) ?? 0)
  }

  /** Takes the waiter out of its queue; false when it was no longer there (admitted or gone already). */
  private leave (waiter: Waiter): boolean {
    const queue = this.queues.get(waiter.tenant)
    const index = queue?.indexOf(waiter) ?? -1
    if (queue === undefined || index < 0) return false
    queue.splice(index, 1)
    if (queue.length === 0) this.queues.delete(waiter.tenant)
    // a head that leaves may have held up others
    if (index === 0) queueMicrotask(() => this.dispatch())
    return true
  }

  private start (tenant: string, units: number, follower = false): () => void {
    this.open += units
    add(this.held, tenant, units)
    if (!follower) add(this.heldByRequests, tenant, units)
    this.served.set(tenant, ++this.tick)
    let released = false
    return () => {
      if (released) return
      released = true
      this.open -= units
      add(this.held, tenant, -units)
      if (!follower) add(this.heldByRequests, tenant, -units)
      this.dispatch()
    }
  }
}

/** Adds to a tenant's count, dropping it at zero. */
function add (counts: Map<string, number>, tenant: string, units: number): void {
  const total = (counts.get(tenant) ?? 0) + units
  if (total <= 0) counts.delete(tenant)
  else counts.set(tenant, total)
}

/** Every admitted route can answer 503 QUERY_CAPACITY: said in its documented 503, beside what the route says there itself. */
function documentCapacityRefusal (route: RouteOptions): void {
  const responses = route.schema?.response as Record<string, { description?: string }> | undefined
  const own = responses?.[503]?.description
  const description = [own, 'too many reads are running for your tenant or on this instance (QUERY_CAPACITY, with Retry-After)']
    .filter(Boolean)
    .join('; or ')
  route.schema = {
    ...route.schema,
    response: { ...responses, ...errorResponses({ 503: description.charAt(0).toUpperCase() + description.slice(1) }) }
  }
}

async function scanAdmissionPlugin (fastify: FastifyInstance, options: ScanAdmissionOptions) {
  const admission = new ScanAdmission(options)
  fastify.decorate('scanAdmission', admission)
  fastify.decorateRequest('disconnected', null as unknown as AbortSignal)

  fastify.addHook('onRoute', function admitScans (route: RouteOptions) {
    const scan = route.config?.scan
    if (scan === undefined || scan === false) return
    const cost = scan === true ? SCAN_COSTS.read : scan
    documentCapacityRefusal(route)
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue
      admission.routes.push(`${method} ${route.url}`)
      admission.costs.set(`${method} ${route.url}`, cost)
    }
    // registered after authorization: `authorize` has run and the tenant is known
    appendOnRequest(route, async function admitScan (request: FastifyRequest, reply: FastifyReply) {
      const controller = new AbortController()
      request.disconnected = controller.signal
      let release: (() => void) | undefined
      let closed = false
      reply.raw.once('close', () => {
        closed = true
        release?.()
        if (!reply.raw.writableFinished) controller.abort(new Error('the client went away'))
      })
      try {
        release = await admission.acquire(request.principal.tenant, cost, { signal: controller.signal })
      } catch (err) {
        // a client that left while waiting is owed nothing; the answer goes nowhere
        throw closed ? new QueryCapacityError() : err
      }
      if (closed) release()
    })
  })
}

export default fp(scanAdmissionPlugin, { fastify: '5.x', name: 'scan-admission', dependencies: ['authorization'] })
