import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { HealthSchema } from '../schemas/health.js'
import { DatabaseUnavailableError } from '../errors.js'

/** Probes for orchestrators: unauthenticated, cheap, and never cached. */
const healthRoutes: FastifyPluginAsyncTypebox = async function healthRoutes (fastify) {
  fastify.get('/health/live', {
    config: { auth: 'public', rateLimit: false },
    schema: {
      operationId: 'getLiveness',
      tags: ['health'],
      summary: 'The process is up',
      description: 'Liveness probe: answers while the process runs, without touching the database.',
      response: { 200: Type.Ref(HealthSchema, { description: 'The process is up' }) }
    }
  }, async function live () {
    return { status: 'ok' as const }
  })

  fastify.get(
    '/health/ready',
    {
      config: { auth: 'public', rateLimit: false },
      schema: {
        operationId: 'getReadiness',
        tags: ['health'],
        summary: 'The database answers a ping',
        description:
          'Readiness probe: 200 when the database answers a ping, 503 otherwise. On FerretDB (the embedded default), `warnings` says when the log has outgrown what one read can scan within QUERY_MAX_TIME_MS.',
        response: {
          200: Type.Ref(HealthSchema, { description: 'Ready to serve' }),
          ...errorResponses({ 503: 'The database does not answer' })
        }
      }
    },
    async function ready (request) {
      try {
        await fastify.mongo.client.db('admin').command({ ping: 1 })
      } catch (err) {
        request.log.warn({ err }, 'readiness ping failed')
        throw new DatabaseUnavailableError()
      }
      const outgrown = fastify.embeddedLimit.warning
      const warnings = [...(outgrown === undefined ? [] : [outgrown]), ...fastify.integrityAlarm.violations]
      return warnings.length === 0 ? { status: 'ok' as const } : { status: 'ok' as const, warnings }
    }
  )
}

export default healthRoutes
