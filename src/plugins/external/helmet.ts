import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Security headers from helmet's defaults, with two changes so that Swagger UI at /docs works from any
 * host over plain HTTP (e.g. http://audit.internal:3000/docs behind no TLS):
 *   - no CSP `upgrade-insecure-requests`: over HTTP by hostname it rewrote every /docs/static asset to
 *     https, which fails, and the page was blank (on localhost browsers exempt it, so it went unseen);
 *   - `Strict-Transport-Security` only on requests that came over HTTPS, directly or through a trusted
 *     proxy's X-Forwarded-Proto (`request.protocol`, which honours TRUST_PROXY). HSTS received over HTTP
 *     is ignored by browsers at best; sent by a host that is also served over HTTP it locks users out.
 *     `Cross-Origin-Opener-Policy` likewise: over HTTP from a name that is not localhost, Chromium ignores it
 *     and logs a console error on every page load (the Swagger UI browser test saw it).
 * Swagger UI needs inline styles and its inline-free scripts from 'self'; the API itself serves only JSON.
 *
 * The options never change, so the headers are computed once at startup (helmet's middleware run
 * against a recording response) instead of rebuilding helmet's middleware on every request, which is
 * what @fastify/helmet does.
 * @see https://helmetjs.github.io
 */
export const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      'script-src': ["'self'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'upgrade-insecure-requests': null
    }
  }
}

/** Headers that mean something only on a secure origin, so are sent only over HTTPS. */
const HTTPS_ONLY = ['strict-transport-security', 'cross-origin-opener-policy']

/** The headers helmet sets for these options, by lower-case name. */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader (name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    },
    removeHeader (name: string) {
      delete headers[name.toLowerCase()]
    }
  }
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => { if (err !== undefined) throw err })
  return headers
}

async function helmetPlugin (fastify: FastifyInstance) {
  const headers = helmetHeaders(HELMET_OPTIONS)
  const always = Object.fromEntries(Object.entries(headers).filter(([name]) => !HTTPS_ONLY.includes(name)))
  const secure = { ...headers }
  fastify.addHook('onRequest', function securityHeaders (request: FastifyRequest, reply: FastifyReply, done) {
    // request.protocol is https when the connection is TLS or a trusted proxy's X-Forwarded-Proto says so
    reply.headers(request.protocol === 'https' ? secure : always)
    done()
  })
}

export default fp(helmetPlugin, { fastify: '5.x', name: 'helmet' })
