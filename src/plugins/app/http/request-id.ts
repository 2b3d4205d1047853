import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'

export const REQUEST_ID_HEADER = 'x-request-id'
/** Short, and nothing a log viewer, an HTML page or a header could read as markup or a line break. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/
/** How much of a refused id is kept in its log line. */
const LOGGED_REFUSED_CHARS = 128

function suppliedId (req: IncomingMessage): string | undefined {
  const value = req.headers[REQUEST_ID_HEADER]
  return typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : undefined
}

/** Fastify's `genReqId`: the client's X-Request-Id when it is short and safe, else a fresh UUID. */
export function requestIdFor (req: IncomingMessage): string {
  const supplied = suppliedId(req)
  return supplied !== undefined && SAFE_REQUEST_ID.test(supplied) ? supplied : randomUUID()
}

/** Logs, once per request, a supplied X-Request-Id that was not taken (truncated; pino escapes it). */
async function requestIdPlugin (fastify: FastifyInstance) {
  fastify.addHook('onRequest', function logRefusedRequestId (request, _reply, done) {
    const supplied = suppliedId(request.raw)
    if (supplied !== undefined && supplied !== request.id) {
      request.log.info({ suppliedRequestId: supplied.slice(0, LOGGED_REFUSED_CHARS) }, 'refused the client\'s X-Request-Id')
    }
    done()
  })
}

export default fp(requestIdPlugin, { fastify: '5.x', name: 'request-id' })
