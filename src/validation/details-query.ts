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
    const dotted = 'details.' + segments.join('.')
    const value = query[key]
    delete query[key]
    const existing = query[dotted]
    query[dotted] = existing === undefined ? value : [existing, value].flat()
  }
  return query
}

/** What the document says about the deepObject parameter (added by plugins/external/swagger.ts). */
export const DETAILS_PARAMETER_DESCRIPTION = 'Filters inside event_specificdetails, as a map from a path to a value ' +
  '(`style: deepObject`): `details[account_number]=94859`, `details[card][brand]=visa` or `details[card.brand]=visa` ' +
  '(nested keys or a dotted path); a value that reads as a number also matches the number. ' +
  'A path ending in `:exists` with `true` or `false` tests presence: `details[card.brand:exists]=true`. ' +
  'Repeat a key to match any of several values. The spellings `details.card.brand=visa` and `details.card.brand:exists=true` work too.'

export const DETAILS_PARAMETER_SCHEMA = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 4096 },
  example: { account_number: '94859' }
}
