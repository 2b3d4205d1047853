import { Type, type Static } from '@sinclair/typebox'
import { MAX_INTEGER, StringEnum } from './common.js'
import { detailsPatterns, filterProperties } from './event-query.js'

/** Bucket widths a histogram can use, and their length: fixed lengths, so buckets align to UTC multiples of them. */
export const HISTOGRAM_INTERVALS = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '6h': 21_600_000,
  '1d': 86_400_000
} as const
export type HistogramInterval = keyof typeof HISTOGRAM_INTERVALS
/** Buckets per answer at most: what a chart can show, and what bounds the memory of a count without the database's $group. */
export const MAX_BUCKETS = 1500

/** The search's filters, without afterSeq: a histogram counts by receipt time, not along the sequence. */
const { afterSeq: _bySequence, ...searchFilters } = filterProperties

export const HistogramQuerySchema = Type.Object({
  ...searchFilters,
  // a histogram needs its ends: an open range has no buckets to count into
  timeStart: Type.String({ format: 'date-time', maxLength: 64, description: 'Receipt time from (inclusive), RFC 3339' }),
  timeEnd: Type.String({ format: 'date-time', maxLength: 64, description: 'Receipt time until (exclusive), RFC 3339' }),
  interval: StringEnum(Object.keys(HISTOGRAM_INTERVALS) as HistogramInterval[], {
    description: `Bucket width; buckets start at UTC multiples of it, and at most ${MAX_BUCKETS} of them may cover the range`
  })
}, { additionalProperties: false, maxProperties: 40, patternProperties: detailsPatterns })
export type HistogramQuery = Static<typeof HistogramQuerySchema> & Record<string, unknown>

export const HistogramBucketSchema = Type.Object({
  start: Type.String({ format: 'date-time', maxLength: 64, description: 'Where the bucket starts (inclusive); it ends where the next one starts' }),
  count: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Matching events received in the bucket' })
}, { $id: 'HistogramBucket', additionalProperties: false, description: 'Matching events in one interval.' })

export const HistogramSchema = Type.Object(
  {
    interval: Type.String({ maxLength: 16, description: 'The bucket width asked for' }),
    timeStart: Type.String({ format: 'date-time', maxLength: 64 }),
    timeEnd: Type.String({ format: 'date-time', maxLength: 64 }),
    total: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Matching events in the range' }),
    buckets: Type.Array(Type.Ref(HistogramBucketSchema), {
      maxItems: MAX_BUCKETS,
      description: 'Every bucket that overlaps the range, empty ones included, oldest first'
    })
  },
  { $id: 'Histogram', additionalProperties: false, description: 'Counts of matching events per interval over a time range.' }
)
