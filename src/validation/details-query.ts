import { parse } from 'fast-querystring'

/**
 * `details` filters in OpenAPI's `deepObject` style, as Swagger UI and generated SDKs send them:
 *
 *   details[account_number]=94859            equals, the same as details.account_number=94859
 *   details[card][brand]=visa                nested path, the same as details.card.brand=visa
 *   details[card.brand]=visa                 a dotted path in one key (what SDKs send for a flat map)
 *   details[card][brand:exists]=true         presence, the same as details.card.brand:exists=true
 *
 * The query string parser rewrites these keys into the dotted spelling before anything else sees them,
 * so validation (the schema's details patterns) and the filter built from it (plugins/app/events/filter.ts)
 * know one spelling only. A key that is not exactly `details` followed by `[segment]`s is left as it is
 * (and refused by validation as an unknown parameter). Several values of one path, in either spelling,
 * are kept together: they match any of them.
 */
const BRACKETED = /^details((?:\[[^[\]]*\])+)$/

export function parseQueryString (text: string): Record<string, unknown> {
  const query = parse(text) as Record<string, unknown>
  for (const key of Object.keys(query)) {
    const match = BRACKETED.exec(key)
    if (match === null) continue
    const segments = (match[1] as string).slice(1, -1).split('][')
    const value = query[key]
    delete query[key]
    addDetailsValue(query, segments.join('.'), value)
  }
  const json = query[DETAILS_JSON_PARAMETER]
  const entries = typeof json === 'string' && json.length <= DETAILS_JSON_MAX_LENGTH ? detailsJsonEntries(json) : undefined
  // one that is not a JSON object of the allowed shape stays, and validation refuses it (schemas/event-query.ts)
  if (entries !== undefined) {
    delete query[DETAILS_JSON_PARAMETER]
    for (const [path, value] of entries) addDetailsValue(query, path, value)
  }
  return query
}

/** A value of `details.<path>`, kept beside any the path already has: several values match any of them. */
function addDetailsValue (query: Record<string, unknown>, path: string, value: unknown): void {
  const dotted = 'details.' + path
  const existing = query[dotted]
  query[dotted] = existing === undefined ? value : [existing, value].flat()
}

/**
 * `details_json`: the same filters as one JSON object, for clients whose generator cannot send a deepObject
 * (openapi-generator's Java client sent `details={card.brand=visa}`). `{"card.brand": "visa"}` or
 * `{"card": {"brand": "visa"}}` is `details[card][brand]=visa`; an array matches any of its values, a number
 * or boolean is its text (as in a query string), `{"card.brand:exists": true}` tests presence. The paths and
 * values are then checked by the same patterns as `details[...]`.
 */
export const DETAILS_JSON_PARAMETER = 'details_json'
export const DETAILS_JSON_MAX_LENGTH = 8192
const DETAILS_JSON_MAX_DEPTH = 8

/** The `[path, value or values]` of a details_json text, or undefined when it is not an object of that shape. */
function detailsJsonEntries (text: string): Array<[string, string | string[]]> | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  const entries: Array<[string, string | string[]]> = []
  const walk = (object: unknown, prefix: string, depth: number): boolean => {
    if (!isPlainObject(object) || depth > DETAILS_JSON_MAX_DEPTH) return false
    for (const [key, value] of Object.entries(object)) {
      const path = prefix === '' ? key : `${prefix}.${key}`
      if (isPlainObject(value)) {
        if (!walk(value, path, depth + 1)) return false
      } else if (Array.isArray(value)) {
        if (value.length === 0 || !value.every(isScalar)) return false
        entries.push([path, value.map(String)])
      } else if (isScalar(value)) {
        entries.push([path, String(value)])
      } else {
        return false
      }
    }
    return true
  }
  return walk(parsed, '', 1) ? entries : undefined
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isScalar (value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
}

/** What the document says about the deepObject parameter (added by plugins/external/swagger.ts). */
export const DETAILS_PARAMETER_DESCRIPTION = 'Filters inside event_specificdetails, as a map from a path to a value ' +
  '(`style: deepObject`): `details[account_number]=94859`, `details[card][brand]=visa` or `details[card.brand]=visa` ' +
  '(nested keys or a dotted path); a value that reads as a number also matches the number. ' +
  'A path ending in `:exists` with `true` or `false` tests presence: `details[card.brand:exists]=true`. ' +
  'Repeat a key to match any of several values. The spellings `details.card.brand=visa` and `details.card.brand:exists=true` work too.'

// no example: Swagger UI would send it on the first Execute, a filter the user never chose
export const DETAILS_PARAMETER_SCHEMA = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 4096 }
}

/** The `details_json` parameter as the document says it (added by plugins/external/swagger.ts beside `details`). */
export const DETAILS_JSON_PARAMETER_SCHEMA = {
  type: 'string',
  minLength: 2,
  maxLength: DETAILS_JSON_MAX_LENGTH,
  description: 'The `details` filters as one JSON object, for clients that cannot send a deepObject: ' +
    '`{"card.brand":"visa"}` or `{"card":{"brand":"visa"}}` is `details[card][brand]=visa`; an array matches any of its values, ' +
    'a number also matches the number, `{"card.brand:exists":true}` tests presence. With `details[...]` too, both apply, ' +
    'as one list of filters (the values of one path match any of them). ' +
    `At most ${DETAILS_JSON_MAX_LENGTH} characters; anything but a JSON object of that shape is a 400.`
}
