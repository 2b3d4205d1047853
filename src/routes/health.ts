import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { DatabaseUnavailableError } from '../errors.js'

const HealthSchema = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })

/** Probes for orchestrators: unauthenticated, cheap, and never cached. */
const healthRoutes: FastifyPluginAsyncTypebox = async function healthRoutes (fastify) {
  fastify.get('/health/live', {
    config: { auth: 'public', rateLimit: false },
    schema: { tags: ['health'], summary: 'The process is up', response: { 200: HealthSchema } }
  }, async function live () {
    return { status: 'ok' as const }
  })

  fastify.get('/health/ready', {
    config: { auth: 'public', rateLimit: false },
    schema: {
      tags: ['health'],
      summary: 'The database answers a ping',
      response: { 200: HealthSchema, ...errorResponses({ 503: 'The database does not answer' }) }
    }
  }, async function ready (request) {
    try {
      await fastify.mongo.client.db('admin').command({ ping: 1 })
    } catch (err) {
      request.log.warn({ err }, 'readiness ping failed')
      throw new DatabaseUnavailableError()
    }
    return { status: 'ok' as const }
  })
}

export default healthRoutes
