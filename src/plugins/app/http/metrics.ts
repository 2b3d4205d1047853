import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AuditMetrics, STATUS_CLASSES } from '../../../metrics/instruments.js'
import { writeObserverFor, type WriteObserver } from '../../../metrics/write-observer.js'
import { timeDatabaseCommands } from '../../../metrics/database-commands.js'
import { publicCode, translateDatabaseError } from './error-handler.js'
import type { ErrorCode } from '../../../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AuditMetrics
    /** Handed to the write path (plugins/app/events/write-path.ts), which reports its batches through it. */
    writeObserver: WriteObserver
  }
}

/** Node's parser accepts a fixed set of methods; anything else would still be one bounded label value. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
/** What a request no route matched is counted as: its URL would be an unbounded label. */
const UNMATCHED_ROUTE = 'unmatched'
const LOGIN_LIMITER_CODES = new Set<ErrorCode>(['AUTH_TOO_MANY_ATTEMPTS', 'RATE_LIMITED', 'SERVICE_OVERLOADED'])
const LOGIN_ROUTES = new Set(['/login'])

/**
 * The instruments behind GET /metrics, and what feeds them: one onResponse hook per request (count and
 * duration by route pattern and status class), the error codes answered, the driver's command events,
 * and the write path's observer. Registered before the write path, which takes the observer.
 */
async function metricsPlugin (fastify: FastifyInstance) {
  const metrics = new AuditMetrics({
    // read at scrape time: both are registered after this plugin
    queueDepth: () => fastify.hasDecorator('eventWriter') ? fastify.eventWriter.depth : 0,
    scansInProgress: () => fastify.hasDecorator('scanAdmission') ? fastify.scanAdmission.active : 0
  })
  fastify.decorate('metrics', metrics)
  fastify.decorate('writeObserver', writeObserverFor(metrics))

  fastify.addHook('onResponse', function countRequest (request: FastifyRequest, reply: FastifyReply, done) {
    const labels = {
      method: METHODS.has(request.method) ? request.method : 'OTHER',
      route: request.routeOptions.url ?? UNMATCHED_ROUTE,
      status_class: STATUS_CLASSES[Math.floor(reply.statusCode / 100) - 1] ?? '5xx'
    }
    metrics.httpRequests.inc(labels)
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000)
    done()
  })

  fastify.addHook('onError', function countError (request: FastifyRequest, _reply: FastifyReply, rawError: FastifyError, done) {
    const code = answeredCode(rawError)
    metrics.errors.inc({ code })
    if (code === 'QUERY_CAPACITY') metrics.scanRefusals.inc()
    const route = request.routeOptions.url
    if (route !== undefined && LOGIN_ROUTES.has(route)) {
      if (code === 'AUTH_LOGIN_FAILED') metrics.loginFailures.inc()
      else if (LOGIN_LIMITER_CODES.has(code)) metrics.loginLimiterRefusals.inc({ code })
    }
    done()
  })

  const stopTiming = timeDatabaseCommands(fastify.mongo.client, metrics)
  fastify.addHook('onClose', async function stopMetrics () {
    stopTiming()
    metrics.registry.clear()
  })
}

/** The code the error handler answers with (plugins/app/error-handler.ts), from the same rules. */
function answeredCode (rawError: FastifyError): ErrorCode {
  const err = translateDatabaseError(rawError)
  const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
  return publicCode(err.code, statusCode)
}

export default fp(metricsPlugin, { fastify: '5.x', name: 'metrics', dependencies: ['mongodb', 'error-handler'] })
