import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ErasureInput, ErasureRequestView } from '../../../schemas/erasure.js'
import { NotFoundError } from '../../../errors.js'
import { SlotLease } from '../storage/lease.js'
import { ErasureRequests } from './request-store.js'
import { ErasureWorker, type ErasureWorkerOptions } from './worker.js'
import { erasureApplied, erasureCompleted, erasureRequested } from './erasure-audit.js'
import { recordEntry, type AuditEntry } from '../audit/audit-trail.js'
import { requestOrigin, taskOrigin } from '../../../http/request-origin.js'

declare module 'fastify' {
  interface FastifyInstance {
    erasures: ErasureService
    erasureWorker: ErasureWorker
  }
}

/** The worker's entries: no caller, no route. */
const WORKER_ORIGIN = taskOrigin('erasure worker')

/** What the routes call: accept a request (or find the identical one), show one, list them. */
export class ErasureService {
  constructor (private readonly fastify: FastifyInstance, readonly store: ErasureRequests) {}

  /**
   * The request is recorded in the log first (who, why, the rule: never the value), then stored; the worker
   * takes it from there. An identical request (same match, fields and reason) is the same request: answered
   * as it stands, `created` false, and recorded as a repeat.
   */
  async submit (request: FastifyRequest, input: ErasureInput): Promise<{ created: boolean, view: ErasureRequestView }> {
    const { tenant, username } = request.principal
    const prepared = this.store.prepare(tenant, username, input, new Date())
    // recorded before it is stored: no erasure runs that the log does not announce (a failed record is a 503, nothing stored)
    const repeat = await this.store.get(tenant, prepared._id) !== null
    await recordEntry(this.fastify.eventWriter, request.principal, requestOrigin(request), erasureRequested(prepared, username, repeat))
    const outcome = await this.store.submit(prepared)
    return { created: outcome.created, view: await this.viewOf(outcome.request) }
  }

  async get (tenant: string, id: string): Promise<ErasureRequestView> {
    const request = await this.store.get(tenant, id)
    if (request === null) throw new NotFoundError('Erasure request')
    return await this.viewOf(request)
  }

  async list (tenant: string, limit: number): Promise<{ items: ErasureRequestView[] }> {
    const [requests, hold] = await Promise.all([this.store.list(tenant, limit), this.fastify.tenantPolicies.legalHold(tenant)])
    const items = await Promise.all(
      requests.map(async (request) => this.store.view(request, await this.store.latestProgress(request._id), hold.active))
    )
    return { items }
  }

  private async viewOf (request: Parameters<ErasureRequests['view']>[0]): Promise<ErasureRequestView> {
    const [progress, hold] = await Promise.all([
      this.store.latestProgress(request._id),
      this.fastify.tenantPolicies.legalHold(request.tenant)
    ])
    return this.store.view(request, progress, hold.active)
  }
}

async function erasureServicePlugin (fastify: FastifyInstance, options: ErasureWorkerOptions) {
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (fastify.mongo.db === undefined) throw new Error('mongodb plugin has no database')
  // request ids are keyed fingerprints: the key stays out of the database, like the signing key it comes from
  const store = new ErasureRequests(fastify.mongo.db, fastify.signingKeys.derive('audit-log erasure request id v1'))
  // in the log of the request's tenant, as its requester's (whose request the worker carries out)
  const recordWorkerEntry = async (request: { tenant: string, requested_by: string }, entry: AuditEntry) =>
    await recordEntry(fastify.eventWriter, { tenant: request.tenant, username: request.requested_by }, WORKER_ORIGIN, entry)
  const worker = new ErasureWorker(
    fastify.eventStore.collection,
    store,
    fastify.sequencer,
    fastify.tenantPolicies,
    new SlotLease(fastify.mongo.db, 'erasure-worker', options.leaseMs),
    options,
    async (request, matched, erased) => { await recordWorkerEntry(request, erasureCompleted(request, matched, erased)) },
    async (request, items) => { await recordWorkerEntry(request, erasureApplied(request, items)) },
    fastify.log,
    (tenant) => fastify.settledWatch.tail.forget(tenant)
  )
  fastify.decorate('erasures', new ErasureService(fastify, store))
  fastify.decorate('erasureWorker', worker)
  fastify.addHook('onReady', async function startErasing () { worker.start() })
  fastify.addHook('onClose', async function stopErasing () { await worker.stop() })
}

export default fp(erasureServicePlugin, {
  fastify: '5.x',
  name: 'erasure-service',
  dependencies: ['event-store', 'sequencer', 'event-writer', 'policy-store', 'merkle-log', 'settled-watch']
})
