import fp from 'fastify-plugin'
import rateLimit, { normalizeIP, type errorResponseBuilderContext } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiKeyRateLimitedError, RateLimitedError } from '../../errors.js'

export interface RateLimitPluginOptions {
  /** Requests per minute per client IP on every route; 0 leaves only the routes' own limits. */
  max: number
  /** Requests per minute per API key (API_KEY_RATE_LIMIT_MAX), for the requests `keyFor` names a key of; 0: none. */
  keyMax?: number
  /**
   * The bucket of a request authenticated by an API key (`api-key:<id>`), or undefined for one counted by its
   * address. Asked before the request is authenticated, so it must name only a key it has already verified: an
   * unverified id would let anyone escape the address's limit by making up ids.
   */
  keyFor?: (request: FastifyRequest) => string | undefined
}

/**
 * @fastify/rate-limit for the routes that set `config.rateLimit` (POST /login) and, with RATE_LIMIT_MAX,
 * for all. Its 429 becomes the service's coded error (its default has no code: `HTTP_ERROR`), with the
 * Retry-After header the library sets; a route can give its own `errorResponseBuilder`.
 * @see https://github.com/fastify/fastify-rate-limit
 */
async function rateLimitPlugin (fastify: FastifyInstance, options: RateLimitPluginOptions) {
  const keyMax = options.keyFor === undefined ? 0 : options.keyMax ?? 0
  /** A key's bucket on the routes without a limit of their own (a login's stays by address, whatever it carries). */
  const keyOf = (request: FastifyRequest): string | undefined =>
    keyMax > 0 && request.routeOptions.config.rateLimit === undefined ? options.keyFor?.(request) : undefined
  const isKey = (key: string): boolean => key.startsWith(API_KEY_BUCKET)
  await fastify.register(rateLimit, {
    global: options.max > 0 || keyMax > 0,
    // the address's limit, or a key's; a route's own `max` (POST /login) replaces this function
    max: (_request: FastifyRequest, key: string) => isKey(key) ? keyMax : options.max > 0 ? options.max : 1000,
    timeWindow: 60000,
    // the library's default key (the address, IPv6 by /56) unless the request carries a verified API key
    keyGenerator: (request: FastifyRequest) => keyOf(request) ?? normalizeIP(request.ip),
    // with RATE_LIMIT_MAX 0 only keys are counted on the global hook; the routes' own limits (which set `max`) still count addresses
    allowList: (request: FastifyRequest, key: string) =>
      options.max === 0 && !isKey(key) && request.routeOptions.config.rateLimit === undefined,
    errorResponseBuilder: (request: FastifyRequest, context: errorResponseBuilderContext) =>
      Object.assign(keyOf(request) !== undefined ? new ApiKeyRateLimitedError() : new RateLimitedError(), {
        retryAfter: retryAfterSeconds(context)
      })
  })
}

/** How the bucket of an API key is named (`api-key:<id>`): never an address. */
export const API_KEY_BUCKET = 'api-key:'

/** Seconds until the window resets, as the library's own Retry-After header says. */
export function retryAfterSeconds (context: errorResponseBuilderContext): number {
  return Math.max(1, Math.ceil(context.ttl / 1000))
}

export default fp(rateLimitPlugin, { fastify: '5.x', name: 'rate-limit' })
