import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * One log line per request instead of Fastify's two: "request completed" carries the request (method,
 * URL, addresses; the Authorization header redacted), the status and the response time, so the line
 * alone says what happened. Measured with `npx tsx bench/request-logging.ts` (BENCHMARKS.md): half the
 * log volume at `info`; the "incoming request" line is still written at `debug`, for a request that never
 * completes.
 */
export class OneLineRequestLog extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return
    if (error !== null && error !== undefined) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    } else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}

/**
 * Query parameters whose values are credentials, by name (case-insensitive, `_`, `-` and `.` ignored, so
 * `access_token`, `Access-Token` and `accesstoken` are one): the service never reads a token from a URL, but a
 * client that puts one there must not see it land in the log.
 */
const CREDENTIAL_PARAMETER = /token|apikey|^key$|password|passwd|^pwd$|secret|^auth$|^authorization$|signature|^sig$|session|jwt|bearer|credential|^code$/

/** Redacted values and userinfo read as this in the log. */
export const REDACTED = '[redacted]'

/**
 * A request target (`/events?access_token=...`, or an absolute URL with `user:password@`) with the values of
 * credential-like query parameters and any userinfo replaced by [redacted]; the rest as sent.
 */
export function redactUrl (url: string): string {
  const hash = url.indexOf('#')
  const target = hash < 0 ? url : url.slice(0, hash)
  const mark = target.indexOf('?')
  const path = (mark < 0 ? target : target.slice(0, mark)).replace(/^((?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/)[^/?#]*@/, `$1${REDACTED}@`)
  if (mark < 0) return path
  const query = target
    .slice(mark + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=')
      const name = equals < 0 ? pair : pair.slice(0, equals)
      return CREDENTIAL_PARAMETER.test(normalName(name)) ? `${name}=${REDACTED}` : pair
    })
    .join('&')
  return `${path}?${query}`
}

/** A parameter name as the pattern reads it: decoded where it can be, lower-cased, separators dropped. */
function normalName (name: string): string {
  let decoded = name.replace(/\+/g, ' ')
  try {
    decoded = decodeURIComponent(decoded)
  } catch {}
  return decoded.toLowerCase().replace(/[\s_.\-[\]]/g, '')
}

/** Fastify's own `req` serializer (method, url, version, host, addresses), with the URL redacted: every log line's request. */
export function serializeRequest (request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrl(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}
