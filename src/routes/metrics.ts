import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

/**
 * Prometheus scrapes this: the instruments of metrics/instruments.ts in the text exposition format.
 * Behind METRICS_TOKEN, not a user's token, so a scraper holds no right to the events; not rate limited,
 * since a scraper calls it on a fixed interval.
 */
const metricsRoute: FastifyPluginAsyncTypebox = async function metricsRoute (fastify) {
  fastify.get('/metrics', {
    config: { auth: 'metrics-token', rateLimit: false },
    schema: {
      operationId: 'getMetrics',
      tags: ['metrics'],
      summary: 'Prometheus metrics of this instance',
      description: 'Request counts and durations per route and status class, ingest queue depth, group-commit batch sizes, ' +
        'database command latencies, events stored/duplicate/refused, read admission, login failures and limiter refusals, ' +
        'and process metrics, in the Prometheus text format. Requires `Authorization: Bearer <METRICS_TOKEN>`.',
      response: {
        200: {
          description: 'The Prometheus text exposition format (version 0.0.4)',
          content: { 'text/plain': { schema: Type.String({ description: 'Prometheus text exposition format' }) } }
        }
      }
    }
  }, async function metrics (_request, reply) {
    return await reply.header('content-type', fastify.metrics.registry.contentType).send(await fastify.metrics.registry.metrics())
  })
}

export default metricsRoute
