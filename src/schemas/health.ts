import { Type } from '@sinclair/typebox'
import { MAX_INTEGER, StringEnum } from './common.js'

export const HealthWarningSchema = Type.Object(
  {
    code: StringEnum(['EMBEDDED_DATABASE_OUTGROWN', 'INTEGRITY_VIOLATION', 'CLOCK_SKEW', 'WITNESS_LAGGING'], {
      description:
        'EMBEDDED_DATABASE_OUTGROWN: the database is FerretDB, which scans every stored event per read, and it holds more than one read can scan within QUERY_MAX_TIME_MS. ' +
        "INTEGRITY_VIOLATION: a tenant's stored log contradicts what the signer recorded (rewritten, cut back, or a record written around the service): nothing more is signed for that tenant; ingest goes on. " +
        "CLOCK_SKEW: this replica's clock is further than CLOCK_SKEW_MAX_MS from the database server's: the times it records are off by as much (checkpoints go on). " +
        'WITNESS_LAGGING: a witness of WITNESSES failed its last submission and has not cosigned the newest checkpoints (retried with backoff; ingest goes on)'
    }),
    message: Type.String({ maxLength: 1000, description: 'Why, and what to do' }),
    stored_events: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'EMBEDDED_DATABASE_OUTGROWN: about how many events are stored (from the sequence counters)' })
    ),
    limit_events: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'EMBEDDED_DATABASE_OUTGROWN: QUERY_MAX_TIME_MS divided by EMBEDDED_SCAN_US_PER_EVENT' })
    ),
    tenant: Type.Optional(Type.String({ maxLength: 200, description: 'INTEGRITY_VIOLATION: the tenant whose log it is' })),
    signed_size: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'INTEGRITY_VIOLATION: the size of the newest checkpoint the signer recorded' })
    ),
    database_size: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'INTEGRITY_VIOLATION: the size of the tree the database holds' })
    ),
    detected_at: Type.Optional(Type.String({ format: 'date-time', maxLength: 64, description: 'INTEGRITY_VIOLATION: when this replica found it' })),
    skew_ms: Type.Optional(
      Type.Integer({
        minimum: -MAX_INTEGER,
        maximum: MAX_INTEGER,
        description: "CLOCK_SKEW: this replica's clock minus the database server's, in ms (positive: ahead)"
      })
    ),
    max_skew_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'CLOCK_SKEW: CLOCK_SKEW_MAX_MS' })),
    witness: Type.Optional(Type.String({ maxLength: 200, description: "WITNESS_LAGGING: the witness's key name" })),
    lag_entries: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: "WITNESS_LAGGING: by how many entries a tenant's newest checkpoint is ahead of what it cosigned (the most of any tenant)" })
    )
  },
  { $id: 'HealthWarning', additionalProperties: false, description: 'Something the operator should act on, although the service is ready.' }
)

export const HealthSchema = Type.Object(
  {
    status: StringEnum(['ok'], { description: 'Always ok: any other state is an error status' }),
    warnings: Type.Optional(
      // one per kind, and an integrity violation per tenant whose log has one: no count of tenants is set, so only int32's
      Type.Array(Type.Ref(HealthWarningSchema), { maxItems: 2 ** 31 - 1, description: 'Present only when there is something to act on (readiness only)' })
    )
  },
  { $id: 'Health', additionalProperties: false, description: "A probe's answer." }
)
