import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { HealthSchema } from '../schemas/health.js'
import { DatabaseFullError, DatabaseUnavailableError } from '../errors.js'

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
          'Readiness probe: 200 when the database answers a ping, 503 otherwise. `warnings` names what an operator should ' +
          'look at while the service still serves (readiness stays 200): EMBEDDED_DATABASE_OUTGROWN (on FerretDB, the ' +
          'log has outgrown what one read can scan within QUERY_MAX_TIME_MS), INTEGRITY_VIOLATION (a tenant\'s stored log ' +
          'contradicts what the signer recorded), CLOCK_SKEW (this replica\'s clock is off the database server\'s by more ' +
          'than CLOCK_SKEW_MAX_MS) and WITNESS_LAGGING (a witness has not cosigned the newest checkpoints).',
        response: {
          200: Type.Ref(HealthSchema, { description: 'Ready to serve' }),
          ...errorResponses({ 503: 'The database does not answer within 1.5 s, or refused a write for lack of space within the last 10 s' })
        }
      }
    },
    async function ready (request) {
      try {
        await pingWithin(fastify, READY_PING_TIMEOUT_MS)
      } catch (err) {
        request.log.warn({ err }, 'readiness ping failed')
        throw new DatabaseUnavailableError()
      }
      // the database answers, but refuses writes for lack of space: not ready until they stop failing
      if (fastify.diskFull.full) throw new DatabaseFullError()
      const outgrown = fastify.embeddedLimit.warning
      const skewed = fastify.clockSkew.warning
      const warnings = [
        ...(outgrown === undefined ? [] : [outgrown]),
        ...fastify.integrityAlarm.violations,
        ...(skewed === undefined ? [] : [skewed]),
        ...fastify.witnessing.warnings
      ]
      return warnings.length === 0 ? { status: 'ok' as const } : { status: 'ok' as const, warnings }
    }
  )
}

/**
 * A probe must answer before its orchestrator gives up, whatever DB_TIMEOUT_MS is: a ping that has not come back
 * by then counts as a database that does not answer. The ping itself goes on and ends within DB_TIMEOUT_MS.
 */
const READY_PING_TIMEOUT_MS = 1500

async function pingWithin (fastify: FastifyInstance, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the database did not answer a ping within ${timeoutMs} ms`)), timeoutMs)
  })
  const ping = fastify.mongo.client.db('admin').command({ ping: 1 })
  // a ping that fails after the deadline is already answered: its rejection is not unhandled
  ping.catch(() => {})
  try {
    await Promise.race([ping, late])
  } finally {
    clearTimeout(timer)
  }
}

export default healthRoutes
