import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import {
  EventTypeInputSchema,
  EventTypeListSchema,
  EventTypeOpenApiSchema,
  EventTypeParams,
  EventTypePolicySchema,
  EventTypeSchema,
  EventTypeVersionParams
} from '../schemas/event-type.js'
import { EVENT_TYPE_BODY_LIMIT, USER_BODY_LIMIT } from '../http/body-limits.js'
import { refuseReservedTypes } from '../plugins/app/audit/namespace.js'
import { eventTypeOpenApi } from '../plugins/app/event-types/openapi-fragment.js'
import { requestOrigin } from '../http/request-origin.js'
import { API_VERSION } from '../plugins/external/swagger.js'

// every role but monitor, which reads checkpoints, tiles and consistency proofs and nothing else (schemas/roles.ts)
const tenantUser = { auth: { roles: ['admin' as const, 'writer' as const, 'reader' as const] } }
const admin = { auth: { roles: ['admin' as const] } }
const LOG_NOTE = 'Each change is an entry of your log (audit.admin.event_type_changed, audit.admin.event_type_policy_changed), written before it applies.'

/** The tenant's event types (plugins/app/event-types/): schemas for event_specificdetails, versioned, and strict mode. */
const tenantEventTypeRoutes: FastifyPluginAsyncTypebox = async function tenantEventTypeRoutes (fastify) {
  fastify.get('/tenant/event-types', {
    config: tenantUser,
    schema: {
      operationId: 'listEventTypes',
      tags: ['event-types'],
      summary: "List your tenant's event types",
      description: 'Each registered type\'s current version and description (the viewer\'s type picker), and whether strict mode is on.',
      response: { 200: Type.Ref(EventTypeListSchema, { description: 'The types, by name' }) }
    }
  }, async function listEventTypes (request) {
    return await fastify.eventTypes.list(request.principal.tenant)
  })

  fastify.get('/tenant/event-types/:event_type', {
    config: tenantUser,
    schema: {
      operationId: 'getEventType',
      tags: ['event-types'],
      summary: 'One event type: its current version',
      params: EventTypeParams,
      response: {
        200: Type.Ref(EventTypeSchema, { description: 'The current version' }),
        ...errorResponses({ 404: 'No such type registered in your tenant' })
      }
    }
  }, async function getEventType (request) {
    return await fastify.eventTypes.current(request.principal.tenant, request.params.event_type)
  })

  fastify.get('/tenant/event-types/:event_type/versions/:version', {
    config: tenantUser,
    schema: {
      operationId: 'getEventTypeVersion',
      tags: ['event-types'],
      summary: 'One version of an event type, as it was made',
      description: "What an event's `schema_version` names: versions are kept and never edited.",
      params: EventTypeVersionParams,
      response: {
        200: Type.Ref(EventTypeSchema, { description: 'That version' }),
        ...errorResponses({ 404: 'No such type or version in your tenant' })
      }
    }
  }, async function getEventTypeVersion (request) {
    return await fastify.eventTypes.version(request.principal.tenant, request.params.event_type, request.params.version)
  })

  fastify.get('/tenant/event-types/:event_type/openapi', {
    config: tenantUser,
    schema: {
      operationId: 'getEventTypeOpenApi',
      tags: ['event-types'],
      summary: "One event type's details as an OpenAPI component, for code generators",
      description:
        'An OpenAPI 3.1 document holding the current version\'s schema as `components.schemas.<Type>Details` and an event of the type as ' +
        '`components.examples.<Type>Event` (with the type\'s example as its details: paste it into POST /events in Swagger UI). ' +
        'Feed it to a generator (`npx openapi-typescript`) for a typed model of this type\'s details.',
      params: EventTypeParams,
      response: {
        200: Type.Ref(EventTypeOpenApiSchema, { description: 'The document' }),
        ...errorResponses({ 404: 'No such type registered in your tenant' })
      }
    }
  }, async function getEventTypeOpenApi (request) {
    return eventTypeOpenApi(await fastify.eventTypes.current(request.principal.tenant, request.params.event_type), API_VERSION)
  })

  fastify.put('/tenant/event-types/:event_type', {
    bodyLimit: EVENT_TYPE_BODY_LIMIT,
    config: admin,
    schema: {
      operationId: 'putEventType',
      tags: ['event-types'],
      summary: 'Register an event type, or make its next version',
      description:
        'From then on, every event of the type is validated against this version: details it refuses are a 400 naming the path and the ' +
        'rule (an item error in a batch), and a stored event carries the `schema_version` it passed. A change makes the next version; ' +
        'versions are kept and never edited. Sending what the current version says changes nothing (200). The schema must accept the ' +
        `example (the previous version's, when none is sent). Hostile schemas are refused (400): see the schema's description. ${LOG_NOTE}`,
      params: EventTypeParams,
      body: Type.Ref(EventTypeInputSchema),
      response: {
        201: Type.Ref(EventTypeSchema, { description: 'The new version' }),
        200: Type.Ref(EventTypeSchema, { description: 'Unchanged: the current version already says this' }),
        ...errorResponses({
          400: "Invalid body, a schema refused (the message names its part), an example the schema refuses, or a type in the service's audit. namespace",
          409: 'EVENT_TYPE_LIMIT types registered already, or the type changed at the same time by another request (CONFLICT: read and retry)',
          413: 'Body too large'
        })
      }
    }
  }, async function putEventType (request, reply) {
    const eventType = request.params.event_type
    refuseReservedTypes([{ event_type: eventType }], () => 'params/event_type')
    const { type, created } = await fastify.eventTypes.put(request.principal, requestOrigin(request), eventType, request.body)
    return await reply.code(created ? 201 : 200).send(type)
  })

  fastify.get('/tenant/event-type-policy', {
    config: tenantUser,
    schema: {
      operationId: 'getEventTypePolicy',
      tags: ['event-types'],
      summary: 'Whether your tenant refuses events of unregistered types',
      response: { 200: Type.Ref(EventTypePolicySchema, { description: 'The policy' }) }
    }
  }, async function getEventTypePolicy (request) {
    return { strict: await fastify.eventTypes.strict(request.principal.tenant) }
  })

  fastify.put('/tenant/event-type-policy', {
    bodyLimit: USER_BODY_LIMIT,
    config: admin,
    schema: {
      operationId: 'setEventTypePolicy',
      tags: ['event-types'],
      summary: 'Turn strict mode on or off',
      description:
        'Strict: an event whose type is not registered is refused (400; an item error in a batch). Off (the default): it is stored without ' +
        `validation and without schema_version. Every replica applies it within EVENT_TYPE_CACHE_MS. ${LOG_NOTE}`,
      body: Type.Ref(EventTypePolicySchema),
      response: {
        200: Type.Ref(EventTypePolicySchema, { description: 'The policy as set' }),
        ...errorResponses({ 400: 'Invalid body', 413: 'Body over 8 KiB' })
      }
    }
  }, async function setEventTypePolicy (request) {
    return { strict: await fastify.eventTypes.setStrict(request.principal, requestOrigin(request), request.body.strict) }
  })
}

export default tenantEventTypeRoutes
