import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { safeDocumentKeyword } from './safe-document.js'

/**
 * Two validators instead of Fastify's one shared Ajv:
 * - bodies are validated exactly: no type coercion (`"ip": 123` is a 400, not "123"), no defaults
 *   invented, and no `removeAdditional` (an unknown field is a 400, never silently stripped);
 * - query strings and path parameters arrive as text, so they are coerced (`limit=10` → 10, a single
 *   `event_type=A` → ["A"] where the schema takes a list).
 */
const common: Options = { allErrors: false, removeAdditional: false, strict: false, useDefaults: true }

function makeAjv (options: Options, shared: TSchema[]): Ajv {
  const ajv = new Ajv({ ...common, ...options })
  addFormats.default(ajv)
  safeDocumentKeyword(ajv)
  for (const schema of shared) ajv.addSchema(schema)
  return ajv
}

export function validatorCompiler (shared: TSchema[]): FastifySchemaCompiler<TSchema> {
  const body = makeAjv({ coerceTypes: false }, shared)
  const text = makeAjv({ coerceTypes: 'array' }, shared)
  return function compile ({ schema, httpPart }) {
    return (httpPart === 'body' ? body : text).compile(schema)
  }
}
