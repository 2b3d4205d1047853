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
