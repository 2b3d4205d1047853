/**
 * The startup check that no number enters unbounded. JSON.parse reads `1e400` as Infinity and a query string's
 * `1e400` is coerced to it; Ajv's `type: integer` accepts Infinity (Infinity % 1 is NaN, not truthy), and
 * `9007199254740993` arrives as another integer than the one sent. A finite `minimum` and `maximum` on every
 * integer and number refuses all of these with a 400 naming the field, whatever the route does with the value
 * later (hash it, store it, compare it). A request schema that lacks one is a programming error: the
 * validator compiler refuses it, so the service does not start (validation/compilers.ts).
 */

type Schema = Record<string, unknown>

const NESTED_ONE = ['items', 'additionalProperties', 'additionalItems', 'contains', 'not', 'if', 'then', 'else', 'propertyNames']
const NESTED_MANY = ['anyOf', 'oneOf', 'allOf', 'prefixItems']
const NESTED_MAP = ['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions']

function isSchema (value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function numericType (schema: Schema): 'integer' | 'number' | undefined {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type]
  if (types.includes('integer')) return 'integer'
  if (types.includes('number')) return 'number'
  return undefined
}

/** What is wrong with one schema's bounds if it is an integer or a number, or undefined when they hold. */
export function numberBoundsProblem (schema: Schema): string | undefined {
  const type = numericType(schema)
  if (type === undefined) return undefined
  // one value or a list of them bounds itself
  if (schema.const !== undefined || Array.isArray(schema.enum)) return undefined
  const lower = [schema.minimum, schema.exclusiveMinimum].find((bound) => typeof bound === 'number')
  const upper = [schema.maximum, schema.exclusiveMaximum].find((bound) => typeof bound === 'number')
  if (typeof lower !== 'number' || !Number.isFinite(lower)) return `${type} without a finite minimum`
  if (typeof upper !== 'number' || !Number.isFinite(upper)) return `${type} without a finite maximum`
  if (type === 'integer' && (upper > Number.MAX_SAFE_INTEGER || lower < -Number.MAX_SAFE_INTEGER)) {
    return 'integer bounds beyond 2^53 - 1, where integers are no longer exact'
  }
  return undefined
}

/**
 * Every integer or number in the schema, and in the components it references (`$ref` to an `$id`), that
 * lacks a finite minimum or maximum: one line each, with its path. Empty when every number is bounded.
 */
export function unboundedNumbers (root: unknown, components: ReadonlyMap<string, unknown> = new Map(), where = ''): string[] {
  const problems: string[] = []
  const visited = new Set<unknown>()
  function walk (schema: unknown, path: string): void {
    if (!isSchema(schema) || visited.has(schema)) return
    visited.add(schema)
    if (typeof schema.$ref === 'string') {
      const id = schema.$ref.startsWith('#/components/schemas/') ? schema.$ref.slice('#/components/schemas/'.length) : schema.$ref
      walk(components.get(id), `${path}(${id})`)
    }
    const problem = numberBoundsProblem(schema)
    if (problem !== undefined) problems.push(`${path === '' ? '/' : path}: ${problem}`)
    for (const key of NESTED_ONE) walk(schema[key], `${path}/${key}`)
    for (const key of NESTED_MANY) {
      const list = schema[key]
      if (Array.isArray(list)) list.forEach((inner, i) => walk(inner, `${path}/${key}/${i}`))
    }
    for (const key of NESTED_MAP) {
      const map = schema[key]
      if (isSchema(map)) for (const [name, inner] of Object.entries(map)) walk(inner, `${path}/${name}`)
    }
  }
  walk(root, where)
  return problems
}
