import { isIP } from 'node:net'
import type { FastifyRequest } from 'fastify'

/** Where a change or a refusal came from, as its entry in the tenant's log says it. */
export interface RequestOrigin {
  /** The caller's address, or 0.0.0.0 when there is none to record. */
  ip: string
  /** The method and the route's pattern (`PUT /tenant/retention`), or what a background task calls itself. */
  location: string
}

/** What an entry records as its address when there is none: a background task's, or a forwarded text. */
const NO_ADDRESS = '0.0.0.0'

/**
 * The origin of a request. Behind a proxy (TRUST_PROXY) `request.ip` is whatever X-Forwarded-For said, which
 * need not be an address; the event's ip field holds addresses only, so anything else is recorded as 0.0.0.0.
 * The route's pattern, not the URL, so that no query string (a filter, a token) reaches the log this way.
 */
export function requestOrigin (request: FastifyRequest): RequestOrigin {
  return {
    ip: isIP(request.ip) !== 0 ? request.ip : NO_ADDRESS,
    location: `${request.method} ${request.routeOptions.url ?? request.url}`
  }
}

/** The origin of what the service does on its own (a sweeper, a worker, a periodic check): no caller, its name. */
export function taskOrigin (task: string): RequestOrigin {
  return { ip: NO_ADDRESS, location: task }
}
