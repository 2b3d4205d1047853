import { Type, type Static } from '@sinclair/typebox'
import { HOLE_REASONS } from '../plugins/app/events/sequencer.js'

export const HOLE_REASON_VALUES = [...Object.keys(HOLE_REASONS), 'expired_by_policy', 'unexplained'] as Array<keyof typeof HOLE_REASONS | 'expired_by_policy' | 'unexplained'>

export const SeqHoleSchema = Type.Object({
  from: Type.Integer({ minimum: 1 }),
  to: Type.Integer({ minimum: 1 }),
  reason: Type.Unsafe<typeof HOLE_REASON_VALUES[number]>({
    type: 'string',
    enum: HOLE_REASON_VALUES,
    description: 'Why these seqs hold no event. ' + Object.entries(HOLE_REASONS).map(([code, text]) => `\`${code}\`: ${text}.`).join(' ') +
      ' `expired_by_policy`: below the retention horizon, deleted by the tenant\'s retention policy (see retention_horizon).' +
      ' `unexplained`: the service recorded no reason, so an event was removed outside the service.'
  })
}, { $id: 'SeqHole', additionalProperties: false })

const SeqRange = Type.Object({
  first_seq: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Lowest seq of an event in range; null when none' }),
  last_seq: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Highest seq of an event in range; null when none' }),
  count: Type.Integer({ minimum: 0, description: 'Events in range' })
}, { additionalProperties: false })

export const CompletenessSchema = Type.Object({
  tenant: Type.String(),
  first_seq: Type.Integer({ minimum: 1, description: 'Where the log starts (1)' }),
  last_seq: Type.Integer({ minimum: 0, description: 'Every seq up to here is settled: an event or a recorded hole. 0 for an empty log' }),
  count: Type.Integer({ minimum: 0, description: 'Events stored with seq in first_seq..last_seq' }),
  complete: Type.Boolean({ description: 'True when every hole has a reason the service recorded' }),
  holes: Type.Array(Type.Ref(SeqHoleSchema), { description: 'Seqs in first_seq..last_seq without an event, as ranges' }),
  in_flight: Type.Integer({ minimum: 0, description: 'Seqs reserved above last_seq by writes not yet settled' }),
  retention_horizon: Type.Optional(Type.Object({
    seq: Type.Integer({ minimum: 1, description: 'Every seq below this was expired by policy (the hole `expired_by_policy`); above it any missing seq still counts' }),
    expired_at: Type.String({ format: 'date-time', description: 'When the horizon was last moved' }),
    days: Type.Integer({ minimum: 0, description: 'The retention policy, in days, that allowed it' })
  }, { additionalProperties: false, description: 'Present once retention has deleted events of the tenant' })),
  time_range: Type.Optional(Type.Object({
    timeStart: Type.Optional(Type.String({ format: 'date-time' })),
    timeEnd: Type.Optional(Type.String({ format: 'date-time' })),
    ...SeqRange.properties
  }, { additionalProperties: false, description: 'With timeStart/timeEnd: which seqs the events received in that range have' }))
}, { $id: 'Completeness', additionalProperties: false })
export type Completeness = Static<typeof CompletenessSchema>

export const CompletenessQuerySchema = Type.Object({
  timeStart: Type.Optional(Type.String({ format: 'date-time', description: 'Receipt time from (inclusive), RFC 3339' })),
  timeEnd: Type.Optional(Type.String({ format: 'date-time', description: 'Receipt time until (exclusive), RFC 3339' }))
}, { additionalProperties: false })
export type CompletenessQuery = Static<typeof CompletenessQuerySchema>
