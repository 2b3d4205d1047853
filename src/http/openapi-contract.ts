import { errorExample } from '../schemas/common.js'

/**
 * What the OpenAPI document promises every client generator, said once for all routes, as the last steps of
 * its generation (plugins/external/swagger.ts). They change the document only, never validation or
 * serialization, and each says a fact of the service that no single route schema can:
 *   - every integer has a `format`: `int64` when its bounds pass 2^31 (seq, tree_size, afterSeq...), so Go and
 *     Java clients do not make it 32-bit and overflow; `int32` otherwise;
 *   - every operation documents 500 (a fault can happen anywhere), 400 when it validates any part of the request,
 *     and, unless the route is exempt from rate limiting, 429 with Retry-After and the X-RateLimit-* headers its
 *     answers carry while a limit applies;
 *   - every error status has its own example, not the same 400 under every code;
 *   - no query parameter comes with an example, so Swagger UI's first Execute filters nothing;
 *   - a required date-time query parameter says RFC 3339 by a `pattern`, not `format: date-time` (see below);
 *   - each server says its audience (`x-internal: false`: clients outside the team).
 * test/app/openapi.test.ts checks each of them on the committed document.
 */

type Json = Record<string, unknown>
type Operation = { parameters?: Json[], responses: Record<string, Json> }
type Document = { paths?: Record<string, Record<string, Operation>>, components?: Json, servers?: Json[] }

/** The largest int32: an integer bounded above it (or below -2^31) needs int64. */
const INT32_MAX = 2 ** 31 - 1

/** The headers of @fastify/rate-limit, by name as it sends them, on every answer of a rate-limited route while a limit applies. */
export const RATE_LIMIT_HEADERS: Record<string, Json> = {
  'X-RateLimit-Limit': {
    description: 'Requests allowed per minute to this client: its address (RATE_LIMIT_MAX), its API key (API_KEY_RATE_LIMIT_MAX) ' +
      "or the route's own limit. Sent while a limit applies to the request",
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }
  },
  'X-RateLimit-Remaining': {
    description: 'Requests left in the current minute. Sent while a limit applies to the request',
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }
  },
  'X-RateLimit-Reset': {
    description: 'Seconds until the current minute ends and the count starts again. Sent while a limit applies to the request',
    schema: { type: 'integer', minimum: 0, maximum: 86400 }
  }
}

const RETRY_AFTER: Json = {
  description: 'Seconds to wait before retrying',
  schema: { type: 'integer', minimum: 1, maximum: 86400 }
}

const TOO_MANY_REQUESTS = 'Too many requests (RATE_LIMITED): over RATE_LIMIT_MAX per address or API_KEY_RATE_LIMIT_MAX per API key ' +
  'in the current minute; retry after Retry-After seconds'
const INTERNAL_ERROR = 'A fault of the service (INTERNAL_ERROR); quote requestId when reporting it'

const INVALID_REQUEST = 'The request does not match its schema (VALIDATION_FAILED): the message names the field and the rule'

/**
 * The 400, 429 and 500 a route can answer, added to its response schemas for the document (the `transform` of
 * @fastify/swagger): 400 when the route validates a part of the request (path, query, headers or body), 429
 * unless the route is exempt from rate limiting (`config.rateLimit: false`), 500 always. A route that documents
 * any of them itself keeps its own description.
 */
export function withCommonErrors (
  response: Json | undefined,
  { rateLimited, validated }: { rateLimited: boolean, validated: boolean },
  errorSchema: (description: string) => unknown
): Json {
  return {
    ...(validated ? { 400: errorSchema(INVALID_REQUEST) } : {}),
    ...(rateLimited ? { 429: errorSchema(TOO_MANY_REQUESTS) } : {}),
    500: errorSchema(INTERNAL_ERROR),
    ...response
  }
}

/** The document-wide steps, on the finished document (the `transformObject` of @fastify/swagger). */
export function finishContract (document: Document): Document {
  // the headers once, referenced by every response that carries them
  document.components = { ...document.components, headers: { ...RATE_LIMIT_HEADERS, 'Retry-After': RETRY_AFTER } }
  // the audience of each server, as OWASP API9 (inventory) asks: clients outside the team
  for (const server of document.servers ?? []) server['x-internal'] = false
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query') withoutExamples(parameter)
        if (parameter.in === 'query' && parameter.required === true) dateTimeAsPattern(parameter)
      }
      const rateLimited = operation.responses['429'] !== undefined
      for (const [status, response] of Object.entries(operation.responses)) {
        if (rateLimited && /^[24]/.test(status)) response.headers = { ...refs(Object.keys(RATE_LIMIT_HEADERS)), ...(response.headers as Json | undefined) }
        if (status === '429') response.headers = { ...refs(['Retry-After']), ...(response.headers as Json | undefined) }
        const media = (response.content as Record<string, Json> | undefined)?.['application/json']
        if (Number(status) >= 400 && media !== undefined) media.example = errorExample(Number(status))
      }
    }
  }
  // last: the headers above have integers too
  addIntegerFormats(document)
  return document
}

function refs (names: string[]): Json {
  return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]))
}

/**
 * A query parameter's examples would be sent by Swagger UI's first Execute, as a filter the user never chose.
 * A map (the details deepObject) gets the empty map instead: with no example at all, Swagger UI fills its box
 * with a made-up one (`{"additionalProp1": "string", …}`) and sends that.
 */
function withoutExamples (parameter: Json): void {
  delete parameter.example
  delete parameter.examples
  const schema = parameter.schema as Json | undefined
  if (schema !== undefined) {
    delete schema.example
    delete schema.examples
  }
  if (parameter.style === 'deepObject') parameter.example = {}
}

/**
 * RFC 3339 as the validator reads it (`src/validation/compilers.ts`: a `T`, `t` or white space between date and time,
 * optional fractions, a zone required): a superset, since the calendar is checked by the service alone.
 */
export const DATE_TIME_PATTERN = '^\\d{4}-\\d{2}-\\d{2}[Tt\\s]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}(:?\\d{2})?)$'

/**
 * openapi-generator's Go client (7.25 and 7.27) checks a REQUIRED string parameter's maxLength with
 * `strlen(*r.timeStart)`, which does not compile when `format: date-time` made it a time.Time (GET
 * /events/histogram's timeStart and timeEnd). Its maxLength cannot go (OWASP's string-limit, and the service
 * enforces it), so the format does: such a parameter is a plain string in every client, with the same RFC 3339
 * as a pattern. Optional ones keep `format: date-time` (a time.Time, OffsetDateTime or datetime in clients).
 */
function dateTimeAsPattern (parameter: Json): void {
  const schema = parameter.schema as Json | undefined
  if (schema?.type !== 'string' || schema.format !== 'date-time') return
  delete schema.format
  schema.pattern = DATE_TIME_PATTERN
}

/** `format` on every integer schema of the document, examples excepted (they are values, not schemas). */
function addIntegerFormats (node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) addIntegerFormats(item)
    return
  }
  if (node === null || typeof node !== 'object') return
  const schema = node as Json
  if (schema.type === 'integer' && schema.format === undefined) schema.format = integerFormat(schema)
  for (const [key, value] of Object.entries(schema)) {
    if (key !== 'example' && key !== 'examples') addIntegerFormats(value)
  }
}

/** int32 only when both bounds are known and within it: an unbounded integer is 64-bit. */
export function integerFormat (schema: Json): 'int32' | 'int64' {
  const { minimum, maximum } = schema
  return typeof minimum === 'number' && typeof maximum === 'number' && minimum >= -INT32_MAX - 1 && maximum <= INT32_MAX
    ? 'int32'
    : 'int64'
}
