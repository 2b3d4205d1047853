import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import { fullFormats } from 'ajv-formats/dist/formats.js'
import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { safeDocumentKeyword } from './safe-document.js'
import { unboundedNumbers } from './number-bounds.js'

/**
 * Two validators instead of Fastify's one shared Ajv:
 * - bodies are validated exactly: no type coercion (`"ip": 123` is a 400, not "123"), no defaults
 *   invented, and no `removeAdditional` (an unknown field is a 400, never silently stripped);
 * - query strings and path parameters arrive as text, so they are coerced (`limit=10` → 10, a single
 *   `event_type=A` → ["A"] where the schema takes a list).
 */
const common: Options = {
  allErrors: false,
  removeAdditional: false,
  strict: false,
  // not strictNumbers: it refuses a body's Infinity, but its generated code then skips minimum and maximum for a
  // non-finite value, and coercion turns a query's `1e400` into Infinity after the type check: the query would
  // pass. Finite bounds on every number (checked below) refuse both.
  strictNumbers: false,
  useDefaults: true,
  // errors carry the schema that failed, whose `x-error-message` (if any) is the message (validation/error-format.ts)
  verbose: true
}

function makeAjv (options: Options, shared: TSchema[]): Ajv {
  const ajv = new Ajv({ ...common, ...options })
  addFormats.default(ajv)
  ajv.addFormat('date-time', { type: 'string', validate: isStorableDateTime })
  ajv.addFormat('ip-address', { type: 'string', validate: isIpAddress })
  safeDocumentKeyword(ajv)
  for (const schema of shared) ajv.addSchema(schema)
  return ajv
}

const rfc3339DateTime = fullFormats['date-time'] as { validate: (text: string) => boolean }

/**
 * RFC 3339 date-time that a JavaScript Date (and BSON) can hold: a leap second (`23:59:60Z`) is valid
 * RFC 3339 but would be stored as an invalid date, so it is a 400 wherever a date-time is accepted.
 */
function isStorableDateTime (text: string): boolean {
  return rfc3339DateTime.validate(text) && Number.isFinite(Date.parse(text))
}

const ipv4 = fullFormats.ipv4 as RegExp
const ipv6 = fullFormats.ipv6 as RegExp

/**
 * IPv4 or IPv6 (schemas/common.ts IpAddress): one format, so the document has one string schema where an
 * `anyOf` of `ipv4` and `ipv6` made generated clients wrap the value; it accepts exactly what those two did.
 */
function isIpAddress (text: string): boolean {
  return ipv4.test(text) || ipv6.test(text)
}

export function validatorCompiler (shared: TSchema[]): FastifySchemaCompiler<TSchema> {
  const body = makeAjv({ coerceTypes: false }, shared)
  const text = makeAjv({ coerceTypes: 'array' }, shared)
  const components = new Map(shared.map((schema) => [schema.$id as string, schema]))
  return function compile ({ schema, httpPart, method, url }) {
    // a number without finite bounds would let 1e400 or 2^53 + 1 through: the service does not start with one
    const unbounded = unboundedNumbers(schema, components, `${method} ${url} ${httpPart}`)
    if (unbounded.length > 0) throw new Error(`unbounded numbers in a request schema: ${unbounded.join('; ')}`)
    return (httpPart === 'body' ? body : text).compile(schema)
  }
}
