import { Type, type Static } from '@sinclair/typebox'
import { BoundedString, DateTime, MAX_INTEGER } from './common.js'

/**
 * Schemas of the tenant's compliance settings: retention and legal hold. The operator's bounds
 * (RETENTION_MIN_DAYS, RETENTION_MAX_DAYS) are checked by the route, so that this component is one
 * document for every deployment.
 */
export const RetentionInputSchema = Type.Object(
  {
    days: Type.Integer({
      minimum: 0,
      maximum: 100000,
      description:
        'How long events are kept after receipt, in days: 0 keeps them forever; otherwise within RETENTION_MIN_DAYS..RETENTION_MAX_DAYS (1..3650 unless the operator set them)',
      examples: [365]
    }),
    locked: Type.Optional(Type.Boolean({
      description:
        'True locks the retention (compliance mode): from then on its days can only grow (0, forever, is the most), and nobody can unlock it ' +
        'through the API. Leaving it out keeps the lock as it is; false on a locked retention is refused (409 RETENTION_LOCKED)'
    }))
  },
  { $id: 'RetentionInput', additionalProperties: false, description: 'A new retention policy for your tenant.' }
)
export type RetentionInput = Static<typeof RetentionInputSchema>

const Updated = {
  updated_at: Type.Optional(DateTime('When an admin last set it; absent while it is the default')),
  updated_by: Type.Optional(Type.String({ maxLength: 64, description: 'The admin who last set it' }))
}

export const RetentionPolicySchema = Type.Object(
  {
    days: Type.Integer({ minimum: 0, maximum: 100000, description: 'Events are deleted this many days after receipt; 0: kept forever' }),
    default: Type.Boolean({ description: 'True while your tenant has set no policy and RETENTION_DEFAULT_DAYS applies' }),
    locked: Type.Boolean({ description: 'True once locked: the days can only grow, and it cannot be unlocked' }),
    policy_seq: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_INTEGER }), Type.Null()], {
      description: 'The seq of the entry of your log that set it (audit.admin.retention_changed); null while nothing recorded it'
    }),
    ...Updated,
    horizon: Type.Union(
      [
        Type.Object(
          {
            seq: Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'Every event with a lower seq was expired by policy' }),
            expired_at: DateTime('When the last of them were deleted'),
            days: Type.Integer({ minimum: 0, maximum: 100000, description: 'The policy, in days, that allowed it' })
          },
          { additionalProperties: false }
        ),
        Type.Null()
      ],
      { description: 'The retention horizon: where your log now starts; null while nothing has expired' }
    )
  },
  { $id: 'RetentionPolicy', additionalProperties: false, description: "Your tenant's retention policy and how far it has deleted." }
)

export const LegalHoldInputSchema = Type.Object(
  {
    active: Type.Boolean({ description: 'True sets the hold, false lifts it' }),
    reason: BoundedString(1024, {
      description: 'Why: a case or ticket reference. Recorded in the audit event',
      examples: ['Case 2026-114: litigation hold']
    })
  },
  { $id: 'LegalHoldInput', additionalProperties: false, description: 'Set or lift the legal hold on your tenant.' }
)
export type LegalHoldInput = Static<typeof LegalHoldInputSchema>

export const LegalHoldSchema = Type.Object({
  active: Type.Boolean({ description: 'While true, retention deletes nothing of your tenant' }),
  reason: Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], { description: 'The reason given when it was last set or lifted; null if never' }),
  ...Updated,
  pending_lift: Type.Union([
    Type.Object({
      requested_by: Type.String({ maxLength: 64, description: 'The admin who asked for the lift' }),
      requested_at: DateTime('When'),
      reason: Type.String({ maxLength: 1024 }),
      mode: Type.String({ enum: ['two-admins', 'delay'], description: 'two-admins: another admin approves it; delay: any admin, after approvable_after' }),
      approvable_after: Type.Union([DateTime('In delay mode: not before'), Type.Null()])
    }, { additionalProperties: false }),
    Type.Null()
  ], { description: 'A lift asked for and not yet approved (POST /tenant/legal-hold/lift/approve) or cancelled (DELETE /tenant/legal-hold/lift)' })
}, { $id: 'LegalHold', additionalProperties: false, description: 'Your tenant\'s legal hold.' })
