import { Type, type Static } from '@sinclair/typebox'
import { EventSchema, type COMMON_FIELDS } from './event.js'
import { MAX_INTEGER, StringEnum, WithDefault } from './common.js'
import { DETAILS_JSON_MAX_LENGTH, DETAILS_JSON_PARAMETER } from '../validation/details-query.js'

/** A filter value; repeat the parameter to match any of several (`?event_type=A&event_type=B`). */
const Values = (description: string) => Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 100, description })

/**
 * `details.<path>=<value>` and `details.<path>:exists=true|false`. Path segments follow the key rules of
 * event_specificdetails (no leading `$`, no NUL), which keeps them from ever reading as operators.
 */
export const DETAILS_EQUALS_PATTERN = '^details(\\.[^.$\\u0000][^.\\u0000]{0,127}){1,8}(?<!:exists)$'
export const DETAILS_EXISTS_PATTERN = '^details(\\.[^.$\\u0000][^.\\u0000]{0,127}){1,8}:exists$'
export const MAX_PAGE = 1000

/** Exact-match filters, one per filterable field: the filter code takes its field list from this object's keys. */
export const FieldFilterProperties = {
  event_type: Type.Optional(Values('Exact event_type')),
  username: Type.Optional(Values('Exact username')),
  entitytype: Type.Optional(Values('Exact entitytype')),
  ip: Type.Optional(Values('Exact ip')),
  location: Type.Optional(Values('Exact location')),
  description: Type.Optional(Values('Exact description')),
  submitted_by: Type.Optional(Values('Username that submitted the event')),
  event_id: Type.Optional(Values('The client\'s event_id'))
} satisfies Record<(typeof COMMON_FIELDS)[number] | 'submitted_by' | 'event_id', unknown>

/** The longest free-text search: a few words, not a document. */
export const TEXT_QUERY_MAX_LENGTH = 256

/**
 * `<field>_not`, `<field>_prefix` and `<field>_not_prefix` for every exact-match field: what a person reading the log needs first
 * ("everything but the service's own `audit.*` records"). Not offered to webhooks, whose filter stays exact.
 */
export const NegationPrefixProperties = Object.fromEntries(
  Object.keys(FieldFilterProperties).flatMap((field) => [
    [`${field}_not`, Type.Optional(Values(`Not this ${field} (repeat to exclude several); an event without the field is kept`))],
    [`${field}_prefix`, Type.Optional(Values(`${field} starts with this text, case-sensitive (repeat: any of several prefixes)`))],
    [`${field}_not_prefix`, Type.Optional(Values(`${field} does not start with this text, case-sensitive (repeat to exclude several); an event without the field is kept`))]
  ])
) as Record<`${keyof typeof FieldFilterProperties}_${'not' | 'prefix' | 'not_prefix'}`, ReturnType<typeof Values>>

/** Every filter of a search: the list, the export and the histogram take the same ones. */
export const filterProperties = {
  ...FieldFilterProperties,
  ...NegationPrefixProperties,
  q: Type.Optional(Type.String({
    minLength: 1,
    maxLength: TEXT_QUERY_MAX_LENGTH,
    description: 'Free text over description, event_type, username, entitytype and location. On MongoDB, its text index: ' +
      'events with any of the words, whole words, case-insensitive, no stemming (`"a phrase"` in quotes, `-word` to exclude). On the embedded ' +
      'FerretDB, a case-insensitive substring of any of those fields, within the same bounded scan as every read'
  })),
  timeStart: Type.Optional(Type.String({ format: 'date-time', maxLength: 64, description: 'Receipt time from (inclusive), RFC 3339' })),
  timeEnd: Type.Optional(Type.String({ format: 'date-time', maxLength: 64, description: 'Receipt time until (exclusive), RFC 3339' })),
  afterSeq: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: MAX_INTEGER,
    description: 'Only events with seq > afterSeq, in seq order, and only as far as every seq is settled: with order=asc, the ' +
      'resumable way to read everything exactly once (pass the last seq you processed; 0 for the start)'
  }))
}

export const detailsPatterns = {
  [DETAILS_EQUALS_PATTERN]: Values('details.<path>: equality inside event_specificdetails; a numeric value also matches the number'),
  [DETAILS_EXISTS_PATTERN]: Type.Boolean({ description: 'details.<path>:exists: whether the path is present' }),
  // the query string parser replaces a valid `details_json` by the details.<path> keys it says; one still here is invalid
  [`^${DETAILS_JSON_PARAMETER}$`]: Type.Unsafe<never>({
    not: {},
    'x-error-message': 'must be a JSON object from a details path to a value (a string, number or boolean, or a list of them), ' +
      `at most ${DETAILS_JSON_MAX_LENGTH} characters`
  })
}

export const FILTERS_DESCRIPTION = 'Filters combine with AND; a repeated parameter matches any of its values. ' +
  '`details` matches inside event_specificdetails: `details[card][brand]=visa` or `details[card.brand]=visa` ' +
  '(also spelled `details.card.brand=visa`; a value that reads as a number also matches the number), and ' +
  '`details[card.brand:exists]=true|false` (also `details.card.brand:exists=true|false`). ' +
  '`<field>_not` excludes values, `<field>_prefix` matches the start of a value and `<field>_not_prefix` excludes it ' +
  '(`event_type_not=Rare`, `event_type_not_prefix=audit.`), for each field that has an exact filter; `q` searches free text. ' +
  'Unknown parameters are refused with 400.'

export const EventListQuerySchema = Type.Object(
  {
    ...filterProperties,
    limit: WithDefault(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 100, description: 'Events per page' })),
    order: WithDefault(
      StringEnum(['desc', 'asc'], { default: 'desc', description: 'By receipt timestamp (by seq with afterSeq), newest first by default' })
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, description: 'next_cursor of the previous page, with the same filters and order' })
    )
  },
  { additionalProperties: false, maxProperties: 40, patternProperties: detailsPatterns }
)
export type EventListQuery = Static<typeof EventListQuerySchema> & Record<string, unknown>

export const EventExportQuerySchema = Type.Object(
  {
    ...filterProperties,
    format: WithDefault(
      StringEnum(['ndjson', 'csv'], {
        default: 'ndjson',
        description: 'ndjson: one Event JSON object per line; csv: a header row, then one row per event'
      })
    ),
    order: WithDefault(
      StringEnum(['asc', 'desc'], { default: 'asc', description: 'By receipt timestamp (by seq with afterSeq), oldest first by default' })
    )
  },
  { additionalProperties: false, maxProperties: 40, patternProperties: detailsPatterns }
)
export type EventExportQuery = Static<typeof EventExportQuerySchema> & Record<string, unknown>

export const EventPageSchema = Type.Object({
  items: Type.Array(Type.Ref(EventSchema), { maxItems: MAX_PAGE, description: 'At most `limit` events, in the requested order' }),
  // a cursor fits the `cursor` parameter it is sent back as
  next_cursor: Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' })
}, { $id: 'EventPage', additionalProperties: false, description: 'One page of events, and the cursor of the next.' })

export const EventIdParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{24}$', maxLength: 24, description: 'The id the service assigned' })
}, { additionalProperties: false })
