import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Send `Cache-Control: no-store` although the route is public (POST /login hands out tokens). */
    noStore?: boolean
    /** The route sets its own Cache-Control on success (immutable hash tiles); errors still get no-store. */
    ownCacheControl?: boolean
  }
}

/**
 * `Cache-Control: no-store` on every answer of an authenticated route (audit data, users, /me) and of
 * routes that ask for it (POST /login: RFC 6749 §5.1), errors included, so no shared or browser cache
 * keeps a token or an event. Public routes such as health are left to their defaults.
 */
async function noStorePlugin (fastify: FastifyInstance) {
  fastify.addHook('onSend', function setNoStore (request, reply, payload, done) {
    const config = request.routeOptions.config
    const own = config?.ownCacheControl === true && reply.statusCode < 400 && reply.hasHeader('cache-control')
    if (!own && (config?.noStore === true || (typeof config?.auth === 'object' && config.auth !== null))) reply.header('cache-control', 'no-store')
    done(null, payload)
  })
}

export default fp(noStorePlugin, { fastify: '5.x', name: 'no-store' })
