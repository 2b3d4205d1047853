import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { SHARED_SCHEMAS } from '../../schemas/shared.js'
import { DOCS_PREFIX } from '../app/authorization.js'

export const API_VERSION = '1.0.0'

/**
 * OpenAPI 3 generated from the routes' TypeBox schemas, and Swagger UI at /docs. The same document is
 * served at /openapi.json and committed as openapi/openapi.json (scripts/generate-openapi.ts).
 * @see https://github.com/fastify/fastify-swagger
 */
async function swaggerPlugin (fastify: FastifyInstance) {
  for (const schema of SHARED_SCHEMAS) fastify.addSchema(schema)

  await fastify.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Audit Log Service',
        version: API_VERSION,
        description: 'Records events sent by other systems and lets authorized clients query them by field values and time range. ' +
          'Log in with POST /login, then send the token as `Authorization: Bearer <token>` (the Authorize button below).'
      },
      tags: [
        { name: 'events', description: 'Submit and query audit events' },
        { name: 'auth', description: 'Log in and inspect the current token' },
        { name: 'users', description: 'Manage the users of your tenant (admin)' },
        { name: 'integrity', description: 'What your tenant\'s log can prove: completeness of its sequence' },
        { name: 'health', description: 'Liveness and readiness probes' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /login' }
        }
      }
    },
    hideUntagged: true,
    refResolver: {
      // name components after their $id instead of def-0, def-1…
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })

  await fastify.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: true }
  })
}

export default fp(swaggerPlugin, { fastify: '5.x', name: 'swagger' })
