import fp from 'fastify-plugin'
import rateLimit, { type errorResponseBuilderContext } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { RateLimitedError } from '../../errors.js'

export interface RateLimitPluginOptions {
  /** Requests per minute per client IP on every route; 0 leaves only the routes' own limits. */
  max: number
}

/**
 * @fastify/rate-limit for the routes that set `config.rateLimit` (POST /login) and, with RATE_LIMIT_MAX,
 * for all. Its 429 becomes the service's coded error (its default has no code: `HTTP_ERROR`), with the
 * Retry-After header the library sets; a route can give its own `errorResponseBuilder`.
 * @see https://github.com/fastify/fastify-rate-limit
 */
async function rateLimitPlugin (fastify: FastifyInstance, options: RateLimitPluginOptions) {
  await fastify.register(rateLimit, {
    global: options.max > 0,
    // unused when global is false, but the library needs a number
    max: options.max > 0 ? options.max : 1000,
    timeWindow: 60000,
    errorResponseBuilder: (_request: FastifyRequest, context: errorResponseBuilderContext) =>
      Object.assign(new RateLimitedError(), { retryAfter: retryAfterSeconds(context) })
  })
}

/** Seconds until the window resets, as the library's own Retry-After header says. */
export function retryAfterSeconds (context: errorResponseBuilderContext): number {
  return Math.max(1, Math.ceil(context.ttl / 1000))
}

export default fp(rateLimitPlugin, { fastify: '5.x', name: 'rate-limit' })
