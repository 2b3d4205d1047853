import type { FastifySchemaValidationError } from 'fastify/types/schema.js'

/** Ajv reports a failed anyOf/oneOf once per branch and once for itself; the client gets one message. */
const ALTERNATIVES = new Set(['anyOf', 'oneOf'])

/**
 * Validation messages that name the exact field, one per field: Ajv's own text for an unknown field is
 * only "must NOT have additional properties", which leaves the client guessing which one, and an ip
 * that is neither IPv4 nor IPv6 came back as three messages. The result reads like
 * `body/events/3/ip must be an IPv4 or IPv6 address`, `querystring/order must be one of: desc, asc` or
 * `querystring must NOT have additional property 'usernme'`. A schema may say its own message in
 * `x-error-message` (Ajv runs with `verbose`, so the failing schema comes with the error).
 */
export function formatValidationErrors (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const alternatives = errors.filter((error) => ALTERNATIVES.has(error.keyword))
  const reported = errors.filter(
    (error) => !alternatives.some((alternative) => alternative !== error && error.schemaPath.startsWith(alternative.schemaPath + '/'))
  )
  const messages = reported.map((error) => {
    const where = `${dataVar}${error.instancePath}`
    const params = error.params as Record<string, unknown>
    const own = (error as { parentSchema?: Record<string, unknown> }).parentSchema?.['x-error-message']
    if (typeof own === 'string') return `${where} ${own}`
    // Infinity reads as `null` in Ajv's own messages (`must be <= 9007199254740991` is right, but not why)
    const data = (error as { data?: unknown }).data
    if (typeof data === 'number' && !Number.isFinite(data)) return `${where} must be a finite number${within(error)}`
    if (error.keyword === 'additionalProperties') return `${where} must NOT have additional property '${String(params.additionalProperty)}'`
    if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) {
      return `${where} must be one of: ${params.allowedValues.join(', ')}`
    }
    return `${where} ${error.message ?? 'is invalid'}`
  })
  return new Error([...new Set(messages)].join(', '))
}

function within (error: FastifySchemaValidationError): string {
  const schema = (error as { parentSchema?: Record<string, unknown> }).parentSchema
  const { minimum, maximum } = schema ?? {}
  return typeof minimum === 'number' && typeof maximum === 'number' ? ` from ${minimum} to ${maximum}` : ''
}
