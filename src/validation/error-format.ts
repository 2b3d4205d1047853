import type { FastifySchemaValidationError } from 'fastify/types/schema.js'

/**
 * Validation messages that name the exact field: Ajv's own text for an unknown field is only
 * "must NOT have additional properties", which leaves the client guessing which one.
 * The result reads like `body/events/3/ip must match format "ipv4"` or
 * `querystring must NOT have additional property 'usernme'`.
 */
export function formatValidationErrors (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const messages = errors.map((error) => {
    const where = `${dataVar}${error.instancePath}`
    const params = error.params as Record<string, unknown>
    if (error.keyword === 'additionalProperties') return `${where} must NOT have additional property '${String(params.additionalProperty)}'`
    return `${where} ${error.message ?? 'is invalid'}`
  })
  return new Error([...new Set(messages)].join(', '))
}
