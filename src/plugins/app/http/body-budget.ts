import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { BUDGETED_BODY_ABOVE } from '../../../http/body-limits.js'
import { OverloadedError } from '../../../errors.js'
import { appendOnRequest } from './route-hooks.js'

export interface BodyBudgetOptions {
  /** Bytes of large bodies (batches) received and being processed at once, across all clients. */
  bytesInFlight: number
}

/**
 * Bounds the memory that concurrent large bodies take: a route allowing more than BUDGETED_BODY_ABOVE
 * (POST /events/batch) reserves its Content-Length (its whole limit when the length is unknown or the body
 * is encoded) from a shared budget before the body is read, and gives it back when the answer is sent or
 * the client goes away. A request that does not fit gets a fast 503 with Retry-After; one larger than the
 * whole budget is still taken when nothing else is in flight. Reserved after authentication, so only
 * writers can hold it.
 */
async function bodyBudgetPlugin (fastify: FastifyInstance, options: BodyBudgetOptions) {
  let inFlight = 0

  function reservation (request: FastifyRequest, limit: number): number {
    // no Content-Length and no Transfer-Encoding: no body (RFC 9112 §6.3)
    if (request.headers['content-length'] === undefined && request.headers['transfer-encoding'] === undefined) return 0
    const length = Number(request.headers['content-length'])
    const encoded = request.headers['content-encoding'] !== undefined && request.headers['content-encoding'] !== 'identity'
    return !encoded && Number.isSafeInteger(length) && length >= 0 && length <= limit ? length : limit
  }

  fastify.addHook('onRoute', function budgetLargeBodies (route: RouteOptions) {
    const limit = route.bodyLimit
    if (limit === undefined || limit <= BUDGETED_BODY_ABOVE) return
    appendOnRequest(route, async function reserveBodyBudget (request: FastifyRequest, reply: FastifyReply) {
      const bytes = reservation(request, limit)
      if (bytes === 0) return
      if (inFlight > 0 && inFlight + bytes > options.bytesInFlight) throw new OverloadedError()
      inFlight += bytes
      let released = false
      const release = () => {
        if (released) return
        released = true
        inFlight -= bytes
      }
      // 'close' comes when the answer is sent and when the client goes away mid-body; 'finish' as a backstop
      reply.raw.once('close', release)
      reply.raw.once('finish', release)
    })
  })
}

export default fp(bodyBudgetPlugin, { fastify: '5.x', name: 'body-budget', dependencies: ['authorization'] })
