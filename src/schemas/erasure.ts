import { Type, type Static } from '@sinclair/typebox'
import { BoundedString, DateTime, MAX_INTEGER, StringEnum } from './common.js'

/**
 * Schemas of data-subject erasure requests (POST /tenant/erasures, plugins/app/erasure/). A request's
 * answer never carries the matched value: once the request is done, the service no longer holds it.
 */

/** A dotted path inside event_specificdetails, as the details filters spell it (keys cannot hold a dot, nor start with $). */
const DetailsPath = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: '^[^.$\\u0000][^.\\u0000]*(\\.[^.$\\u0000][^.\\u0000]*)*$',
  description: 'A dotted path inside event_specificdetails',
  examples: ['email']
})

const ErasableFieldPath = Type.String({
  maxLength: 256,
  pattern: '^(username|ip|location|description|event_specificdetails(\\.[^.$\\u0000][^.\\u0000]*)*)$',
  description:
    '`username`, `ip`, `location`, `description`, `event_specificdetails` (every value in it) or `event_specificdetails.<dotted path>` (that value, or every value under it)',
  examples: ['event_specificdetails.email']
})

const ObjectIdHex = Type.String({ pattern: '^[0-9a-f]{24}$', maxLength: 24, description: 'An event id' })

export const ErasureMatchSchema = Type.Object(
  {
    username: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'Every event whose `username` is exactly this', examples: ['john_mayor'] })
    ),
    details: Type.Optional(
      Type.Object(
        {
          path: DetailsPath,
          // any finite double, as event_specificdetails may hold one: 1e400 (Infinity once parsed) is a 400
          value: Type.Union([
            Type.String({ maxLength: 4096 }),
            Type.Number({ minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE }),
            Type.Boolean()
          ], {
            description: 'Every event whose details hold exactly this value at `path` (or an array holding it)',
            'x-error-message': 'must be a string, a finite number or a boolean',
            examples: ['john@gmail.com']
          })
        },
        { additionalProperties: false, description: 'A details path and value, as `details[path]=value` filters them' }
      )
    ),
    event_ids: Type.Optional(
      Type.Array(ObjectIdHex, {
        minItems: 1,
        maxItems: 1000,
        uniqueItems: true,
        description: 'These events of your tenant (ids of other tenants match nothing)'
      })
    )
  },
  {
    $id: 'ErasureMatch',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    description: 'Which events concern the data subject: exactly one of `username`, `details` or `event_ids`.'
  }
)

export const ErasureInputSchema = Type.Object(
  {
    match: Type.Ref(ErasureMatchSchema),
    fields: Type.Optional(
      Type.Array(ErasableFieldPath, {
        minItems: 1,
        maxItems: 32,
        uniqueItems: true,
        description: 'What to erase of each matching event; every erasable field when left out'
      })
    ),
    reason: BoundedString(1024, {
      description: "Why: a ticket or request reference. Recorded in the audit trail: do not write the data subject's name or data here",
      examples: ['DSR-2026-0412 (GDPR Art. 17)']
    })
  },
  {
    $id: 'ErasureInput',
    additionalProperties: false,
    description: "A request to erase a data subject's personal data from your tenant's events.",
    examples: [{ match: { details: { path: 'email', value: 'john@gmail.com' } }, reason: 'DSR-2026-0412 (GDPR Art. 17)' }]
  }
)
export type ErasureInput = Static<typeof ErasureInputSchema>

export const ERASURE_STATES = ['waiting_for_legal_hold', 'running', 'done'] as const
export type ErasureState = typeof ERASURE_STATES[number]

export const ErasureRequestSchema = Type.Object(
  {
    id: Type.String({
      pattern: '^er_[0-9a-f]{32}$',
      maxLength: 35,
      description: 'The request id: the same for an identical request (same match, fields and reason)',
      examples: ['er_3f0a8e1c9b7d4a6e2f5c8b1a0d9e7f6c']
    }),
    state: StringEnum(ERASURE_STATES, {
      description:
        '`running`: accepted, being worked through in the background; `waiting_for_legal_hold`: your tenant is under legal hold, nothing is erased until it is lifted; `done`: every matching event is erased'
    }),
    requested_by: Type.String({ maxLength: 64, description: 'The admin who asked' }),
    requested_at: DateTime('When it was accepted'),
    reason: Type.String({ maxLength: 1024, description: 'The reason given' }),
    match: Type.Object(
      {
        kind: StringEnum(['username', 'details', 'event_ids'] as const, { description: 'How events were matched' }),
        path: Type.Optional(Type.String({ maxLength: 512, description: 'For `details`: the path matched' })),
        event_ids: Type.Optional(Type.Array(ObjectIdHex, { maxItems: 1000, description: 'For `event_ids`: the ids' }))
      },
      { additionalProperties: false, description: 'The match rule, without the value matched' }
    ),
    fields: Type.Union([Type.Array(Type.String({ maxLength: 256 }), { maxItems: 32 }), Type.Null()], { description: 'The fields erased; null: every erasable field' }),
    through_seq: Type.Union([Type.Integer({ minimum: 0, maximum: MAX_INTEGER }), Type.Null()], {
      description: 'The request covers your events up to this seq (those stored when it started); null until it starts'
    }),
    matched: Type.Union([Type.Integer({ minimum: 0, maximum: MAX_INTEGER }), Type.Null()], { description: 'Events that matched; null until it starts' }),
    erased: Type.Integer({
      minimum: 0,
      maximum: MAX_INTEGER,
      description: 'Matching events done so far: the fields asked for are erased (or the event never had them)'
    }),
    remaining: Type.Union([Type.Integer({ minimum: 0, maximum: MAX_INTEGER }), Type.Null()], { description: 'Events still to erase; null until it starts' }),
    done_at: Type.Union([DateTime('When it finished'), Type.Null()], { description: 'When it finished; null until then' })
  },
  {
    $id: 'ErasureRequest',
    additionalProperties: false,
    description: 'An erasure request and its progress. It never shows the value matched.'
  }
)
export type ErasureRequestView = Static<typeof ErasureRequestSchema>

export const ErasureListSchema = Type.Object({
  items: Type.Array(Type.Ref(ErasureRequestSchema), { maxItems: 200, description: 'Newest first, at most `limit`' })
}, { $id: 'ErasureList', additionalProperties: false, description: 'Your tenant\'s erasure requests.' })

export const ErasureIdParams = Type.Object({
  id: Type.String({ pattern: '^er_[0-9a-f]{32}$', maxLength: 35, description: 'The request id' })
}, { additionalProperties: false })

export const ErasureListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'How many of the newest requests' }))
}, { additionalProperties: false })
