import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import { NotFoundError } from '../../../errors.js'
import { appendRouteHook } from '../http/route-hooks.js'

/** Reads of the log that take the search's filters: the scope is added to them. */
const SEARCHES = new Set(['/events', '/event', '/events/histogram', '/events/facets', '/events/export', '/events/stream'])
/** Reads of one event: answered only for an event inside the scope (404 otherwise, as for another tenant's). */
const ONE_EVENT = new Set(['/events/:id', '/events/:id/proof'])
/** What the viewer needs besides, none of which shows an event: who the key is, and what Verify checks against. */
const OPEN = new Set(['/me', '/integrity/keys', '/integrity/checkpoint'])

/** A 403 of the documented kind (AUTH_FORBIDDEN), saying why. */
function outsideScope (message: string): Error {
  return Object.assign(new Error(message), { statusCode: 403, code: 'AUTH_FORBIDDEN' })
}

/**
 * Scoped view links (#30): an API key with a fixed filter (`scope`, schemas/api-key.ts) reads only the events inside
 * it, enforced here, on the server, for every route: the search routes get the scope added to their filters (a
 * request asking for another value of that field is refused), one event is answered only inside it, the few routes
 * the viewer needs besides are let through, and every other route is refused. A principal without a scope is
 * untouched. Runs before the handler, after validation and the scan admission.
 */
async function linkScopePlugin (fastify: FastifyInstance) {
  fastify.addHook('onRoute', function confineScopedKeys (route: RouteOptions) {
    const url = route.url
    const reads = [route.method].flat().every((method) => method === 'GET' || method === 'HEAD')
    const kind = !reads ? 'refused' : SEARCHES.has(url) ? 'search' : ONE_EVENT.has(url) ? 'one' : OPEN.has(url) ? 'open' : 'refused'
    appendRouteHook(route, 'preHandler', async function confineToScope (request: FastifyRequest) {
      const scope = (request as Partial<Pick<FastifyRequest, 'principal'>>).principal?.scope
      if (scope === undefined || kind === 'open') return
      if (kind === 'refused') throw outsideScope('A view link reads its own events only: this route is not one of them')
      if (kind === 'search') {
        const query = request.query as Record<string, unknown>
        const asked = query[scope.field]
        if (Array.isArray(asked) && !asked.includes(scope.value)) {
          throw outsideScope(`This view link shows ${scope.field} ${scope.value} only`)
        }
        query[scope.field] = [scope.value]
        return
      }
      const { id } = request.params as { id: string }
      const doc = await fastify.eventStore.findById(request.principal.tenant, id, request.disconnected ?? undefined)
      if (doc === null || (doc as unknown as Record<string, unknown>)[scope.field] !== scope.value) throw new NotFoundError('Event')
    })
  })
}

export default fp(linkScopePlugin, { fastify: '5.x', name: 'link-scope', dependencies: ['event-store'] })
