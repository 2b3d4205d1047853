import safeRegex from 'safe-regex2'
import { SCHEMA_LIMITS } from '../../../schemas/event-type.js'

/**
 * What a tenant's schema may hold, checked before Ajv compiles it. A schema is run on every event of its type, on
 * the write path shared by every tenant: one that fetches remote documents, runs a regular expression that
 * backtracks for seconds, or takes long to compile, would slow everyone's writes. Refused here, each with the path
 * of the part at fault (a JSON pointer under `schema`):
 * - a `$ref` or `$dynamicRef` that is not local (`#...`): nothing is ever fetched, and no tenant's schema can name
 *   another's; `$id` anywhere (the service names schemas; two tenants' ids must never meet in one compiler);
 * - a `$schema` other than draft 2020-12's;
 * - more than SCHEMA_LIMITS bytes or levels;
 * - a pattern (`pattern`, a `patternProperties` key) longer than SCHEMA_LIMITS.maxPatternLength, or with what a
 *   backtracking engine (V8's) can take exponential time on: backreferences, lookarounds, and nested quantifiers
 *   (`(a+)+`, found by safe-regex2's star height); what safe-regex2 cannot parse is refused too;
 * - `uniqueItems` on an array not bounded by `maxItems` ≤ SCHEMA_LIMITS.maxUniqueItems (items compared pairwise).
 * Unknown keywords and formats are refused by Ajv's strict mode when it compiles (schema-compiler.ts).
 */
export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema'

/** Keywords whose value is one subschema, an array of them, or a map of them (draft 2020-12 and Ajv's own). */
const ONE = ['not', 'if', 'then', 'else', 'items', 'contains', 'additionalProperties', 'propertyNames', 'unevaluatedItems',
  'unevaluatedProperties', 'contentSchema', 'additionalItems']
const MANY = ['allOf', 'anyOf', 'oneOf', 'prefixItems']
const MAP = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']

/** The first reason the schema is refused, as `schema<pointer> <reason>`, or undefined. */
export function hostileSchemaProblem (schema: unknown): string | undefined {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return 'schema must be an object schema'
  const size = Buffer.byteLength(JSON.stringify(schema))
  if (size > SCHEMA_LIMITS.maxBytes) return `schema is ${size} bytes as JSON, more than ${SCHEMA_LIMITS.maxBytes}`
  if (depthOf(schema) > SCHEMA_LIMITS.maxDepth) return `schema is nested more than ${SCHEMA_LIMITS.maxDepth} levels deep`
  const declared = (schema as Record<string, unknown>).$schema
  if (declared !== undefined && declared !== DRAFT_2020_12) return `schema/$schema must be ${DRAFT_2020_12} (or left out)`
  return subschemaProblem(schema, 'schema')
}

function depthOf (value: unknown): number {
  if (value === null || typeof value !== 'object') return 0
  let deepest = 0
  for (const inner of Object.values(value)) deepest = Math.max(deepest, depthOf(inner))
  return deepest + 1
}

function subschemaProblem (schema: unknown, at: string): string | undefined {
  // booleans are schemas too; anything else Ajv refuses with its own message when it compiles
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return undefined
  const node = schema as Record<string, unknown>
  if (node.$id !== undefined) return `${at}/$id is not allowed: the service names each schema`
  if (at !== 'schema' && node.$schema !== undefined) return `${at}/$schema is allowed only at the root`
  for (const keyword of ['$ref', '$dynamicRef']) {
    const ref = node[keyword]
    if (ref !== undefined && (typeof ref !== 'string' || !ref.startsWith('#'))) {
      return `${at}/${keyword} must be a local reference ("#..."): nothing is fetched`
    }
  }
  if (node.pattern !== undefined) {
    const problem = patternProblem(node.pattern)
    if (problem !== undefined) return `${at}/pattern ${problem}`
  }
  if (node.uniqueItems === true) {
    const max = node.maxItems
    if (typeof max !== 'number' || max > SCHEMA_LIMITS.maxUniqueItems) {
      return `${at}/uniqueItems needs maxItems of at most ${SCHEMA_LIMITS.maxUniqueItems} beside it (items are compared pairwise)`
    }
  }
  for (const keyword of ONE) {
    const problem = subschemaProblem(node[keyword], `${at}/${keyword}`)
    if (problem !== undefined) return problem
  }
  for (const keyword of MANY) {
    const list = node[keyword]
    if (!Array.isArray(list)) continue
    for (const [i, inner] of list.entries()) {
      const problem = subschemaProblem(inner, `${at}/${keyword}/${i}`)
      if (problem !== undefined) return problem
    }
  }
  for (const keyword of MAP) {
    const map = node[keyword]
    if (map === null || typeof map !== 'object' || Array.isArray(map)) continue
    for (const [key, inner] of Object.entries(map)) {
      const where = `${at}/${keyword}/${pointerToken(key)}`
      if (keyword === 'patternProperties') {
        const problem = patternProblem(key)
        if (problem !== undefined) return `${where} ${problem}`
      }
      const problem = subschemaProblem(inner, where)
      if (problem !== undefined) return problem
    }
  }
  return undefined
}

/** Backreferences (`\1`, `\k<name>`) and lookarounds: outside what a linear-time (RE2-like) engine accepts. */
const NOT_LINEAR = /\\[1-9]|\\k<|\(\?<?[=!]/

function patternProblem (pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return undefined
  if (pattern.length > SCHEMA_LIMITS.maxPatternLength) return `is longer than ${SCHEMA_LIMITS.maxPatternLength} characters`
  if (NOT_LINEAR.test(pattern)) return 'must not use backreferences or lookarounds'
  try {
    new RegExp(pattern, 'u') // eslint-disable-line no-new -- only to see whether it is a valid pattern
  } catch {
    return 'is not a valid regular expression'
  }
  if (!safeRegex(pattern)) return 'must not nest quantifiers (as in (a+)+): it could take exponential time'
  return undefined
}

/** RFC 6901: `~` and `/` escaped in a pointer's token. */
function pointerToken (key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}
