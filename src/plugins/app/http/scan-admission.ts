import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { QueryCapacityError } from '../../../errors.js'
import { errorResponses } from '../../../schemas/common.js'
import { appendOnRequest } from './route-hooks.js'
import { SlotCounter } from '../storage/slots.js'

declare module 'fastify' {
  interface FastifyInstance {
    scanAdmission: ScanAdmission
  }
  interface FastifyContextConfig {
    /** The route reads the event log (a scan on FerretDB): it takes a slot of the admission control. */
    scan?: boolean
  }
  interface FastifyRequest {
    /** Aborted when the client goes away before its answer is complete: a scan it started stops. */
    disconnected: AbortSignal
  }
}

export interface ScanAdmissionOptions {
  /** Reads of the event log running at once on this instance. */
  perInstance: number
  /** Of those, at most this many for one tenant, so one tenant's reads cannot take them all. */
  perTenant: number
}

/**
 * Admission control for reads of the event log. Every route marked `config.scan` takes a slot for its
 * tenant before it runs and gives it back when its answer is finished or its client goes away (an export
 * holds its slot while it streams). Beyond the instance's or the tenant's share, a read is refused at once
 * with 503 QUERY_CAPACITY and Retry-After, instead of queueing behind scans that take the cores from
 * everyone, writes included. Writes never take a slot: ingest is not slowed by reads waiting here.
 */
export class ScanAdmission {
  /** The routes that take a slot, as `GET /events/:id`. */
  readonly routes: string[] = []
  private readonly slots: SlotCounter

  constructor (readonly options: ScanAdmissionOptions) {
    this.slots = new SlotCounter(options.perTenant, options.perInstance, () => new QueryCapacityError())
  }

  get active (): number {
    return this.slots.active
  }

  /** Takes a slot for the tenant, or throws QUERY_CAPACITY; the returned function gives it back (once). */
  admit (tenant: string): () => void {
    return this.slots.take(tenant)
  }
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
    if (route.config?.scan !== true) return
    documentCapacityRefusal(route)
    for (const method of [route.method].flat()) if (method !== 'HEAD') admission.routes.push(`${method} ${route.url}`)
    // registered after authorization: `authorize` has run and the tenant is known
    appendOnRequest(route, async function admitScan (request: FastifyRequest, reply: FastifyReply) {
      const release = admission.admit(request.principal.tenant)
      const controller = new AbortController()
      request.disconnected = controller.signal
      reply.raw.once('close', () => {
        release()
        if (!reply.raw.writableFinished) controller.abort(new Error('the client went away'))
      })
    })
  })
}

export default fp(scanAdmissionPlugin, { fastify: '5.x', name: 'scan-admission', dependencies: ['authorization'] })
