import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { ITEM_ERROR_MAX_LENGTH } from '../../../schemas/event.js'
import { hostileSchemaProblem } from './schema-policy.js'

/**
 * Tenants' schemas, compiled by an Ajv of their own, never the request validator's (validation/compilers.ts): a
 * tenant's schema sees nothing the service registered, and the service's see nothing of a tenant's.
 * - strict mode (`strictSchema`, `strictNumbers`, `strictTuples`): an unknown keyword or format is refused
 *   (`requierd` is a typo the admin learns of, not a rule silently skipped). Not `strictTypes` or `strictRequired`,
 *   which refuse ordinary schemas (`properties` without `type: object`).
 * - nothing is changed in the data: no `removeAdditional`, no `useDefaults`, no `coerceTypes`. An event either
 *   passes as sent or is refused; it is never stored altered.
 * - no `loadSchema`: a `$ref` that does not resolve inside the schema fails to compile (and is refused earlier by
 *   schema-policy.ts).
 * - `allErrors: false`: the first failure is the answer, and the validator stops there.
 */
export class TenantSchemaCompiler {
  private readonly ajv = new Ajv2020({
    strict: false,
    strictSchema: true,
    strictNumbers: true,
    strictTuples: true,
    allErrors: false,
    removeAdditional: false,
    useDefaults: false,
    coerceTypes: false,
    validateFormats: true,
    // compiled validators are kept by the registry's own cache, keyed by version: Ajv's cache would only grow
    addUsedSchema: false
  })

  constructor () {
    addFormats.default(this.ajv)
  }

  /** A validator, or throws SchemaRefused naming what is wrong (a hostile part, or Ajv's compile error). */
  compile (schema: unknown): ValidateFunction {
    const problem = hostileSchemaProblem(schema)
    if (problem !== undefined) throw new SchemaRefused(problem)
    try {
      const validate = this.ajv.compile(schema as object)
      // Ajv keeps each compiled schema by identity: dropped here, the registry's cache alone decides how long it lives
      this.ajv.removeSchema(schema as object)
      return validate
    } catch (err) {
      throw new SchemaRefused(`schema is not a valid draft 2020-12 schema: ${(err as Error).message}`)
    }
  }
}

export class SchemaRefused extends Error {
  override name = 'SchemaRefused'
}

/**
 * The first failure, as the request validator words its own (`<where> <message>`), with the rule that failed and
 * the type's version: `body/event_specificdetails/amount must be number (rule type of BillingCharged v2)`.
 */
export function describeFailure (where: string, errors: ErrorObject[] | null | undefined, eventType: string, version: number): string {
  const error = errors?.[0]
  const rule = `(rule ${error?.keyword ?? 'schema'} of ${eventType} v${version})`
  if (error === undefined) return `${where} is invalid ${rule}`
  const path = `${where}${error.instancePath}`
  const params = error.params as Record<string, unknown>
  if (error.keyword === 'additionalProperties') return withinBound(`${path} must NOT have additional property '${String(params.additionalProperty)}'`, rule)
  if (error.keyword === 'unevaluatedProperties') return withinBound(`${path} must NOT have unevaluated property '${String(params.unevaluatedProperty)}'`, rule)
  if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) return withinBound(`${path} must be one of: ${params.allowedValues.join(', ')}`, rule)
  return withinBound(`${path} ${error.message ?? 'is invalid'}`, rule)
}

/**
 * The failure, cut to what a batch item's `error` may hold: a long enum, a deep path or a long property name would
 * otherwise answer more than the documented maxLength. The rule, which says what to fix, is always kept whole.
 */
function withinBound (failure: string, rule: string): string {
  const room = ITEM_ERROR_MAX_LENGTH - rule.length - 2
  return `${failure.length <= room ? failure : failure.slice(0, room - 1) + '…'} ${rule}`
}
