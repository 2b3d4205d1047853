import fp from 'fastify-plugin'
import fastifySwagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { DOCS_PREFIX } from '../../http/doc-paths.js'
import type { FastifyInstance } from 'fastify'
import { SHARED_SCHEMAS } from '../../schemas/shared.js'
import { DETAILS_EQUALS_PATTERN } from '../../schemas/event-query.js'
import { DETAILS_PARAMETER_DESCRIPTION, DETAILS_PARAMETER_SCHEMA } from '../../validation/details-query.js'

export const API_VERSION = '1.0.0'

const SERVICE_TITLE = 'Audit Log Service'

/** A plain mark for the browser tab: the service's own, not the framework's. */
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f3a5f"/>' +
  '<path d="M9 8h14M9 14h14M9 20h9" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>'

type Transform = NonNullable<FastifyDynamicSwaggerOptions['transform']>
type TransformObject = NonNullable<FastifyDynamicSwaggerOptions['transformObject']>

/**
 * A query schema with the details patterns gets a `details` property, for the document only: TypeBox's
 * patternProperties have no OpenAPI parameter form, so without it no SDK or Swagger UI could send one.
 * Validation keeps the patterns: the query string parser turns `details[...]` keys into them.
 */
const documentDetailsParameter: Transform = function documentDetailsParameter ({ schema, url }) {
  const querystring = schema?.querystring as
    { properties?: Record<string, unknown>; patternProperties?: Record<string, unknown> } | undefined
  if (querystring?.patternProperties?.[DETAILS_EQUALS_PATTERN] === undefined) return { schema, url }
  const details = { ...DETAILS_PARAMETER_SCHEMA, description: DETAILS_PARAMETER_DESCRIPTION }
  return { schema: { ...schema, querystring: { ...querystring, properties: { ...querystring.properties, details } } }, url }
}

/** ...and that parameter is serialized as a deepObject (`details[path]=value`), which @fastify/swagger cannot say per parameter. */
const deepObjectDetails: TransformObject = function deepObjectDetails (documentObject) {
  const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject
  for (const item of Object.values(document.paths ?? {}) as Array<Record<string, { parameters?: Array<Record<string, unknown>> }>>) {
    for (const operation of Object.values(item)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query' && parameter.name === 'details') Object.assign(parameter, { style: 'deepObject', explode: true })
      }
    }
  }
  return document
}

/**
 * OpenAPI 3 generated from the routes' TypeBox schemas, and Swagger UI at /docs. The same document is
 * served at /openapi.json and committed as openapi/openapi.json (scripts/generate-openapi.ts).
 * @see https://github.com/fastify/fastify-swagger
 * @see https://github.com/fastify/fastify-swagger-ui
 */
async function swaggerPlugin (fastify: FastifyInstance) {
  for (const schema of SHARED_SCHEMAS) fastify.addSchema(schema)

  await fastify.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: SERVICE_TITLE,
        version: API_VERSION,
        description:
          'Records events sent by other systems and lets authorized clients query them by field values and time range. ' +
          'Log in with POST /login, then send the token as `Authorization: Bearer <token>` (the Authorize button below). ' +
          'With the embedded default database, the bootstrap user is `admin`, its password in `data/admin-password.txt`.',
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
        contact: { name: 'Audit Log Service maintainers' }
      },
      // relative: the document works wherever the service is reached (Swagger UI, SDKs given a base URL)
      servers: [{ url: '/', description: 'This service' }],
      tags: [
        { name: 'events', description: 'Submit and query audit events' },
        { name: 'auth', description: 'Log in and inspect the current token' },
        { name: 'users', description: 'Manage the users of your tenant (admin)' },
        { name: 'integrity', description: "What your tenant's log can prove: completeness of its sequence" },
        { name: 'tenant', description: "Your tenant's compliance settings: retention, legal hold and data-subject erasure (admin)" },
        { name: 'webhooks', description: "Signed deliveries of your tenant's events to your URLs (admin)" },
        { name: 'health', description: 'Liveness and readiness probes' },
        { name: 'metrics', description: "Prometheus metrics, for the operator's scraper" }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /login' },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The METRICS_TOKEN the service is configured with (GET /metrics only)'
          }
        }
      }
    },
    hideUntagged: true,
    transform: documentDetailsParameter,
    transformObject: deepObjectDetails,
    refResolver: {
      // name components after their $id instead of def-0, def-1…
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`)
    }
  })

  await fastify.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    // BaseLayout: the document's own title and description, without the framework's top bar (its logo
    // and "Explore" box, which would load any URL typed into it)
    uiConfig: { layout: 'BaseLayout', persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: true, deepLinking: true },
    theme: {
      title: `${SERVICE_TITLE}: API`,
      favicon: [{ filename: 'favicon.svg', rel: 'icon', type: 'image/svg+xml', sizes: 'any', content: FAVICON }]
    }
  })
}

export default fp(swaggerPlugin, { fastify: '5.x', name: 'swagger' })
