import { STATUS_CODES } from 'node:http'
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { ERROR_CODE_MEANINGS, ERROR_CODES } from '../errors.js'

/**
 * The few primitives every other schema is built from. Shared components carry an `$id`: they are
 * registered once with `addSchema` (see plugins/external/swagger.ts) and referenced with `Type.Ref`,
 * so the OpenAPI document names them and generated SDKs get one type each, not a copy per route.
 */

/**
 * The largest integer a double holds exactly (2^53 - 1): the upper bound of every seq, count and position.
 * No number enters unbounded: every integer and number of a schema has a finite minimum and maximum, so
 * `1e400` (Infinity once parsed) or `9007199254740993` (not exact) is a 400 naming the field. The
 * validator refuses a request schema without them at startup (validation/number-bounds.ts).
 */
export const MAX_INTEGER = Number.MAX_SAFE_INTEGER

/** A required, non-empty string with an upper bound: no field is unbounded. */
export const BoundedString = (maxLength: number, options: { description?: string, examples?: string[] } = {}) =>
  Type.String({ minLength: 1, maxLength, ...options })

/** RFC 3339 date-time; 64 characters hold any the service writes or reads (fractional seconds included). */
export const DateTime = (description: string) => Type.String({ format: 'date-time', maxLength: 64, description })

/**
 * A closed set of strings as ONE `enum` schema. `Type.Union` of `Type.Literal`s would be an `anyOf` of
 * one-value enums in the OpenAPI document: Swagger UI's dropdown then offers a single value and SDK
 * generators make a type per literal.
 */
export function StringEnum<const T extends readonly string[]> (
  values: T,
  options: { description?: string; default?: T[number]; examples?: Array<T[number]> } = {}
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

/**
 * A parameter with a default: optional in the document, so clients may leave it out (Ajv's `useDefaults`
 * fills it in), yet present in the handler's type, because by the time a handler runs it always is.
 * `Type.Optional` alone would make the handler handle an `undefined` that cannot happen.
 */
export function WithDefault<T extends TSchema> (schema: T): T {
  return Type.Optional(schema) as unknown as T
}

/**
 * IPv4 or IPv6, as ONE string schema: an `anyOf` of the two formats made generated clients wrap the value
 * (`EventInputIp{String:&ip}` in Go). The document says `format: ip-address` (not a standard format: clients
 * treat it as a plain string), and the validator knows that format as Node's `net.isIP` (validation/compilers.ts):
 * IPv4 or IPv6 accepted, anything else a 400 with `x-error-message`.
 */
export const IpAddress = Type.Unsafe<string>({
  type: 'string',
  format: 'ip-address',
  maxLength: 64,
  description: 'IPv4 or IPv6 address',
  examples: ['192.168.0.1'],
  'x-error-message': 'must be an IPv4 or IPv6 address'
})

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status, repeated' }),
    code: StringEnum(ERROR_CODES, {
      description:
        'Stable machine-readable code. ' +
        Object.entries(ERROR_CODE_MEANINGS)
          .map(([code, meaning]) => `${code}: ${meaning}`)
          .join('; ') +
        '.'
    }),
    error: Type.String({ maxLength: 64, description: 'HTTP reason phrase' }),
    message: Type.String({ maxLength: 16384, description: 'What was wrong, naming the field or parameter' }),
    requestId: Type.Optional(Type.String({ maxLength: 128, description: 'Quote it when reporting a 5xx' }))
  },
  { $id: 'Error', additionalProperties: false, description: 'Every non-2xx answer has this body.' }
)

/** Response entries for a set of error statuses, each described, all with the shared body. */
export function errorResponses (statuses: Record<number, string>): Record<number, TSchema> {
  const responses: Record<number, TSchema> = {}
  for (const [status, description] of Object.entries(statuses)) {
    responses[Number(status)] = Type.Ref(ErrorSchema, { description })
  }
  return responses
}

type ErrorBody = Static<typeof ErrorSchema>

/**
 * One example per error status, so a reader (and Swagger UI) sees what each status really says, not the same
 * 400 under every code. The OpenAPI document puts the status's example under each error response
 * (http/openapi-contract.ts); a status missing here gets its reason phrase and the code INTERNAL_ERROR or
 * BAD_REQUEST, and test/app/openapi.test.ts fails if two statuses of the document share an example.
 */
export const ERROR_EXAMPLES: Record<number, ErrorBody> = {
  400: { statusCode: 400, code: 'VALIDATION_FAILED', error: 'Bad Request', message: 'body/ip must be an IPv4 or IPv6 address' },
  401: { statusCode: 401, code: 'AUTH_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing, invalid or expired access token' },
  403: { statusCode: 403, code: 'AUTH_FORBIDDEN', error: 'Forbidden', message: 'This route needs the admin role' },
  404: { statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'Event not found' },
  409: { statusCode: 409, code: 'CONFLICT', error: 'Conflict', message: 'Username is taken' },
  413: { statusCode: 413, code: 'BODY_TOO_LARGE', error: 'Payload Too Large', message: 'Request body is too large' },
  415: { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE', error: 'Unsupported Media Type', message: 'Unsupported Media Type: text/plain' },
  429: { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: 'Too many requests from this address; retry later' },
  500: {
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    error: 'Internal Server Error',
    message: 'Internal Server Error',
    requestId: 'req-1f'
  },
  503: {
    statusCode: 503,
    code: 'SERVICE_OVERLOADED',
    error: 'Service Unavailable',
    message: 'The service is at capacity; retry shortly',
    requestId: 'req-20'
  }
}

export function errorExample (status: number): ErrorBody {
  return ERROR_EXAMPLES[status] ?? {
    statusCode: status,
    code: status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST',
    error: STATUS_CODES[status] ?? 'Error',
    message: STATUS_CODES[status] ?? 'Error',
    ...(status >= 500 ? { requestId: 'req-1f' } : {})
  }
}
