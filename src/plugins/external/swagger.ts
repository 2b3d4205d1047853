import fp from 'fastify-plugin'
import fastifySwagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import fastifySwaggerUi, { type FastifySwaggerUiOptions } from '@fastify/swagger-ui'
import { DOCS_PREFIX } from '../../http/doc-paths.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SHARED_SCHEMAS } from '../../schemas/shared.js'
import { DETAILS_EQUALS_PATTERN } from '../../schemas/event-query.js'
import {
  DETAILS_JSON_PARAMETER,
  DETAILS_JSON_PARAMETER_SCHEMA,
  DETAILS_PARAMETER_DESCRIPTION,
  DETAILS_PARAMETER_SCHEMA
} from '../../validation/details-query.js'
import { finishContract, withCommonErrors } from '../../http/openapi-contract.js'
import { ErrorSchema } from '../../schemas/common.js'
import { Type } from '@sinclair/typebox'
import packageJson from '../../../package.json' with { type: 'json' }
import { DOWNLOAD_URL_PLUGIN, RELOAD_ON_AUTHORIZE_PLUGIN, SPEC_REQUEST_INTERCEPTOR } from './swagger-ui-authorized.js'

/** The document's version is the package's: one number to bump, and a client can tell which release it was made from. */
export const API_VERSION = packageJson.version

const SERVICE_TITLE = 'Audit Log Service'

/** A plain mark for the browser tab: the service's own, not the framework's. */
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f3a5f"/>' +
  '<path d="M9 8h14M9 14h14M9 20h9" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>'

type Transform = NonNullable<FastifyDynamicSwaggerOptions['transform']>
type TransformObject = NonNullable<FastifyDynamicSwaggerOptions['transformObject']>

/**
 * A query schema with the details patterns gets a `details` property and a `details_json` one, for the document
 * only: TypeBox's patternProperties have no OpenAPI parameter form, so without them no SDK or Swagger UI could
 * send one. `details_json` says the same filter as one JSON string, for generators without deepObject support.
 * Validation keeps the patterns: the query string parser turns `details[...]` keys and `details_json` into them.
 * Every route also documents the 400, 429 and 500 it can answer (http/openapi-contract.ts).
 */
const documentRoute: Transform = function documentRoute ({ schema: routeSchema, url: routeUrl, route }) {
  const { schema, url } = namedWildcard(routeSchema, routeUrl)
  const rateLimited = (route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== false
  const validated = (['params', 'querystring', 'headers', 'body'] as const).some((part) => schema?.[part] !== undefined)
  const response = withCommonErrors(schema?.response as Record<string, unknown> | undefined, { rateLimited, validated },
    (description) => Type.Ref(ErrorSchema, { description }))
  const querystring = schema?.querystring as
    { properties?: Record<string, unknown>; patternProperties?: Record<string, unknown> } | undefined
  if (querystring?.patternProperties?.[DETAILS_EQUALS_PATTERN] === undefined) return { schema: { ...schema, response }, url }
  const details = { ...DETAILS_PARAMETER_SCHEMA, description: DETAILS_PARAMETER_DESCRIPTION }
  const properties = { ...querystring.properties, details, [DETAILS_JSON_PARAMETER]: DETAILS_JSON_PARAMETER_SCHEMA }
  return { schema: { ...schema, response, querystring: { ...querystring, properties } }, url }
}

/**
 * OpenAPI has no wildcard path: a route ending in `*` (GET /logs/{tenant}/tile/*, a C2SP tile path with its
 * slashes) is documented with that part as the path parameter `path`. A client that escapes its slashes is still
 * understood: the router decodes the wildcard.
 */
function namedWildcard (schema: Parameters<Transform>[0]['schema'], url: string): { schema: Parameters<Transform>[0]['schema'], url: string } {
  if (!url.endsWith('/*')) return { schema, url }
  const params = schema?.params as { properties?: Record<string, unknown>, required?: string[] } | undefined
  const { '*': wildcard, ...others } = params?.properties ?? {}
  const required = [...(params?.required ?? []).filter((name) => name !== '*'), 'path']
  return { schema: { ...schema, params: { ...params, properties: { ...others, path: wildcard }, required } }, url: `${url.slice(0, -1)}:path` }
}

/**
 * ...and that parameter is serialized as a deepObject (`details[path]=value`), which @fastify/swagger cannot say
 * per parameter; then the rules every operation follows (http/openapi-contract.ts).
 */
const finishDocument: TransformObject = function finishDocument (documentObject) {
  const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject
  for (const item of Object.values(document.paths ?? {}) as Array<Record<string, { parameters?: Array<Record<string, unknown>> }>>) {
    for (const operation of Object.values(item)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query' && parameter.name === 'details') Object.assign(parameter, { style: 'deepObject', explode: true })
      }
    }
  }
  return finishContract(document as Parameters<typeof finishContract>[0]) as typeof document
}

/** A change of the document for one caller, made on a copy. */
export type DocumentEdit = (document: Record<string, unknown>) => void

export interface SwaggerOptions {
  /**
   * What the document Swagger UI loads (/docs/json, /docs/yaml) gains for the request's caller, or undefined for the
   * static one (the app's: the caller's event types as examples, event-types/swagger-examples.ts). Asked at request
   * time, so it may use decorators registered after this plugin. /openapi.json stays the static document.
   */
  tailor?: (request: FastifyRequest) => Promise<DocumentEdit | undefined>
}

/**
 * OpenAPI 3 generated from the routes' TypeBox schemas, and Swagger UI at /docs. The same document is
 * served at /openapi.json and committed as openapi/openapi.json (scripts/generate-openapi.ts).
 * @see https://github.com/fastify/fastify-swagger
 * @see https://github.com/fastify/fastify-swagger-ui
 */
async function swaggerPlugin (fastify: FastifyInstance, options: SwaggerOptions) {
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
      servers: [{ url: '/', description: 'This service, in whatever environment it runs (local, staging or production)' }],
      tags: [
        { name: 'events', description: 'Submit and query audit events' },
        { name: 'auth', description: 'Log in and inspect the current token' },
        { name: 'users', description: 'Manage the users of your tenant (admin)' },
        { name: 'api-keys', description: 'Credentials for machine clients: sending systems and readers (admin)' },
        { name: 'integrity', description: "What your tenant's log can prove: completeness of its sequence" },
        { name: 'tenant', description: "Your tenant's compliance settings: retention, legal hold and data-subject erasure (admin)" },
        { name: 'event-types', description: "Your tenant's event types: a versioned JSON Schema per type validates events' details" },
        { name: 'webhooks', description: "Signed deliveries of your tenant's events to your URLs (admin)" },
        { name: 'health', description: 'Liveness and readiness probes' },
        { name: 'metrics', description: "Prometheus metrics, for the operator's scraper" }
      ],
      components: {
        securitySchemes: {
          // ONE bearer scheme: generated clients (Java's setBearerToken) put the token on the first they find, so a
          // second `http bearer` scheme took every user's token. GET /metrics names this one too (access/authorization.ts).
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An access token from POST /login (a JWT, HS256 only, its issuer and audience pinned and every registered claim ' +
              'required, as RFC8725 advises), or an API key (`alk_...`). GET /metrics takes the METRICS_TOKEN instead, and nothing else.'
          }
        }
      }
    },
    hideUntagged: true,
    transform: documentRoute,
    transformObject: finishDocument,
    refResolver: {
      // name components after their $id instead of def-0, def-1…
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`)
    }
  })

  await fastify.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    // BaseLayout: the document's own title and description, without the framework's top bar (its logo
    // and "Explore" box, which would load any URL typed into it)
    uiConfig: {
      layout: 'BaseLayout',
      // also where SPEC_REQUEST_INTERCEPTOR finds the credential to load the document with
      persistAuthorization: true,
      displayRequestDuration: true,
      tryItOutEnabled: true,
      deepLinking: true,
      requestInterceptor: SPEC_REQUEST_INTERCEPTOR,
      plugins: [DOWNLOAD_URL_PLUGIN, RELOAD_ON_AUTHORIZE_PLUGIN]
    },
    ...tailoredDocument(options.tailor),
    theme: {
      title: `${SERVICE_TITLE}: API`,
      favicon: [{ filename: 'favicon.svg', rel: 'icon', type: 'image/svg+xml', sizes: 'any', content: FAVICON }]
    }
  })
}

/**
 * Swagger UI's document with the caller's additions: `transformSpecification` must answer at once, so the edit is
 * found by an async preHandler first. The answer depends on the credential: Vary says so, and a tailored one is not
 * stored. A failure to find the edit (the database away) leaves the static document, logged: the docs stay usable.
 */
function tailoredDocument (tailor: SwaggerOptions['tailor']): Pick<FastifySwaggerUiOptions, 'uiHooks' | 'transformSpecification' | 'transformSpecificationClone'> {
  if (tailor === undefined) return {}
  const edits = new WeakMap<FastifyRequest, DocumentEdit>()
  const documentUrls = new Set([`${DOCS_PREFIX}/json`, `${DOCS_PREFIX}/yaml`])
  return {
    uiHooks: {
      preHandler: async function findDocumentEdit (request: FastifyRequest) {
        if (!documentUrls.has(request.routeOptions.url ?? '')) return
        try {
          const edit = await tailor(request)
          if (edit !== undefined) edits.set(request, edit)
        } catch (err) {
          request.log.warn({ err }, "Swagger UI's document is served without the caller's additions")
        }
      }
    },
    // the static document as it is; a copy only to edit (the plugin's default copies it on every request)
    transformSpecificationClone: false,
    transformSpecification (document: Readonly<Record<string, unknown>>, request: FastifyRequest, reply: FastifyReply) {
      reply.header('vary', 'authorization')
      const edit = edits.get(request)
      if (edit === undefined) return document
      reply.header('cache-control', 'no-store')
      const copy = structuredClone(document) as Record<string, unknown>
      edit(copy)
      return copy
    }
  }
}

export default fp(swaggerPlugin, { fastify: '5.x', name: 'swagger' })
