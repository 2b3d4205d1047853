import type { FastifyInstance, FastifyRequest } from 'fastify'
import { BriefSampleEvent } from '../../../schemas/event.js'
import type { Role } from '../../../schemas/roles.js'
import { sampleEvent } from './openapi-fragment.js'
import type { TypeExample } from './event-type-registry.js'
import type { DocumentEdit } from '../../external/swagger.js'

/** Types offered at most, by name: each is a choice in a dropdown, and the document is fetched on every page load. */
export const SWAGGER_EXAMPLES_MAX = 20

/** Who may read the tenant's types (GET /tenant/event-types): not monitor. */
const TYPE_READERS: Role[] = ['admin', 'writer', 'reader']
/** A type's description in the dropdown, cut: it may be long. */
const SUMMARY_MAX = 100

type OpenApiDocument = Parameters<DocumentEdit>[0]

/**
 * What the document Swagger UI loads gains for its caller: their tenant's event types as named examples of POST
 * /events' and POST /events/batch's bodies. Undefined (the static document) without a valid credential of a user
 * who may read the types, for a view link (which reads its own events and nothing else, events/link-scope.ts), and
 * for a tenant without a type that has an example. Only the caller's own tenant is read: its principal's.
 */
export async function typeExamplesFor (fastify: FastifyInstance, request: FastifyRequest): Promise<DocumentEdit | undefined> {
  const principal = await fastify.authorization.principalOf(request, TYPE_READERS)
  if (principal === undefined || principal.scope !== undefined) return undefined
  const types = await fastify.eventTypes.examples(principal.tenant, SWAGGER_EXAMPLES_MAX)
  if (types.length === 0) return undefined
  return (document) => withTypeExamples(document, types)
}

/**
 * The brief's sample first (what Swagger UI fills in), then one example per type: an event of the type with the
 * type's example as its details; the batch gets the sample and one event of each type. OpenAPI allows `example` or
 * `examples`, not both: the body's `example` goes.
 */
export function withTypeExamples (document: OpenApiDocument, types: TypeExample[]): void {
  const events = types.map((type) => sampleEvent(type.event_type, type.example))
  const brief = { summary: "The brief's sample event", value: BriefSampleEvent }
  setExamples(document, '/events', {
    'brief-sample': brief,
    ...Object.fromEntries(types.map((type, i) => [`type:${type.event_type}`, { summary: summaryOf(type), value: events[i] }]))
  })
  setExamples(document, '/events/batch', {
    'brief-sample': { ...brief, value: { events: [BriefSampleEvent] } },
    'your-types': { summary: `One event of each of your tenant's types (${types.length})`, value: { events } }
  })
}

function summaryOf (type: TypeExample): string {
  const summary = `${type.event_type}: ${type.description}`
  return summary.length <= SUMMARY_MAX ? summary : `${summary.slice(0, SUMMARY_MAX - 1)}…`
}

function setExamples (document: OpenApiDocument, path: string, examples: Record<string, unknown>): void {
  type Operation = { requestBody?: { content?: Record<string, Record<string, unknown>> } }
  const paths = document.paths as Record<string, { post?: Operation }> | undefined
  const media = paths?.[path]?.post?.requestBody?.content?.['application/json']
  if (media === undefined) return
  delete media.example
  media.examples = examples
}
