import { Type, type TSchema, type TUnsafe } from '@sinclair/typebox'
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

export const DateTime = (description: string) => Type.String({ format: 'date-time', description })

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
 * IPv4 or IPv6, expressed as formats generators and fuzzers understand. `x-error-message` replaces Ajv's
 * three messages for a failed `anyOf` (one per branch and one for the anyOf) with one (validation/error-format.ts).
 */
export const IpAddress = Type.Unsafe<string>({
  type: 'string',
  maxLength: 64,
  anyOf: [{ type: 'string', format: 'ipv4' }, { type: 'string', format: 'ipv6' }],
  description: 'IPv4 or IPv6 address',
  examples: ['192.168.0.1'],
  'x-error-message': 'must be an IPv4 or IPv6 address'
})

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status, repeated', examples: [400] }),
    code: StringEnum(ERROR_CODES, {
      description:
        'Stable machine-readable code. ' +
        Object.entries(ERROR_CODE_MEANINGS)
          .map(([code, meaning]) => `${code}: ${meaning}`)
          .join('; ') +
        '.',
      examples: ['VALIDATION_FAILED']
    }),
    error: Type.String({ description: 'HTTP reason phrase', examples: ['Bad Request'] }),
    message: Type.String({
      description: 'What was wrong, naming the field or parameter',
      examples: ['body/ip must be an IPv4 or IPv6 address']
    }),
    requestId: Type.Optional(Type.String({ description: 'Quote it when reporting a 5xx' }))
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
