import { Type, type Static } from '@sinclair/typebox'
import { MAX_INTEGER, StringEnum, WithDefault } from './common.js'
import { detailsPatterns, FieldFilterProperties, filterProperties } from './event-query.js'

/** The fields whose top values can be counted: those with exact-match filters, so a value found is a filter to apply. */
export const FACET_FIELDS = Object.keys(FieldFilterProperties) as Array<keyof typeof FieldFilterProperties>
export type FacetField = typeof FACET_FIELDS[number]
export const MAX_FACET_VALUES = 100
/** Where the database cannot group, the distinct values counted in memory at most; beyond them the answer says it is not exact. */
export const FACET_MAX_DISTINCT = 20_000

/** The search's filters, without afterSeq: top values of matches, whatever their position in the sequence. */
const { afterSeq: _bySequence, ...searchFilters } = filterProperties

export const FacetQuerySchema = Type.Object({
  ...searchFilters,
  field: StringEnum(FACET_FIELDS, { description: 'The field whose most frequent values are counted' }),
  limit: WithDefault(Type.Integer({ minimum: 1, maximum: MAX_FACET_VALUES, default: 10, description: 'Values returned, most frequent first' }))
}, { additionalProperties: false, maxProperties: 40, patternProperties: detailsPatterns })
export type FacetQuery = Static<typeof FacetQuerySchema> & Record<string, unknown>

export const FacetsSchema = Type.Object({
  field: Type.String({ maxLength: 64, description: 'The field counted' }),
  values: Type.Array(
    Type.Object({
      value: Type.String({ maxLength: 4096, description: 'A value of the field' }),
      count: Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'Matching events with this value' })
    }, { additionalProperties: false }),
    { maxItems: MAX_FACET_VALUES, description: 'The most frequent values among the matches, most frequent first (ties by value); events without the field (or erased) are not counted' }
  ),
  exact: Type.Boolean({
    description: `false only on the embedded FerretDB when the matches hold more than ${FACET_MAX_DISTINCT} distinct values: the counts are of the first ones met`
  })
}, { additionalProperties: false, description: 'The top values of a field among the matching events.' })
export type Facets = Static<typeof FacetsSchema>
