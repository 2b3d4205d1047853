import { Type, type TSchema } from '@sinclair/typebox'

/**
 * The few primitives every other schema is built from. Shared components carry an `$id`: they are
 * registered once with `addSchema` (see plugins/external/swagger.ts) and referenced with `Type.Ref`,
 * so the OpenAPI document names them and generated SDKs get one type each, not a copy per route.
 */

/** A required, non-empty string with an upper bound: no field is unbounded. */
export const BoundedString = (maxLength: number, options: { description?: string, examples?: string[] } = {}) =>
  Type.String({ minLength: 1, maxLength, ...options })

export const DateTime = (description: string) => Type.String({ format: 'date-time', description })

/** IPv4 or IPv6, expressed as formats generators and fuzzers understand. */
export const IpAddress = Type.Unsafe<string>({
  type: 'string',
  maxLength: 64,
  anyOf: [{ type: 'string', format: 'ipv4' }, { type: 'string', format: 'ipv6' }],
  description: 'IPv4 or IPv6 address',
  examples: ['192.168.0.1']
})

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer({ examples: [400] }),
  code: Type.String({ description: 'Stable machine-readable code', examples: ['FST_ERR_VALIDATION'] }),
  error: Type.String({ description: 'HTTP reason phrase', examples: ['Bad Request'] }),
  message: Type.String({ description: 'What was wrong, naming the field or parameter', examples: ['body must have required property \'ip\''] }),
  requestId: Type.Optional(Type.String({ description: 'Quote it when reporting a 5xx' }))
}, { $id: 'Error', additionalProperties: false, description: 'Every non-2xx answer has this body.' })

/** Response entries for a set of error statuses, each described, all with the shared body. */
export function errorResponses (statuses: Record<number, string>): Record<number, TSchema> {
  const responses: Record<number, TSchema> = {}
  for (const [status, description] of Object.entries(statuses)) {
    responses[Number(status)] = Type.Ref(ErrorSchema, { description })
  }
  return responses
}
