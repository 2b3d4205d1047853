import { Type } from '@sinclair/typebox'
import { MAX_INTEGER, StringEnum } from './common.js'

export const HealthWarningSchema = Type.Object(
  {
    code: StringEnum(['EMBEDDED_DATABASE_OUTGROWN'], {
      description:
        'EMBEDDED_DATABASE_OUTGROWN: the database is FerretDB, which scans every stored event per read, and it holds more than one read can scan within QUERY_MAX_TIME_MS'
    }),
    message: Type.String({ description: 'Why, and what to do' }),
    stored_events: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'About how many events are stored (from the sequence counters)' }),
    limit_events: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'QUERY_MAX_TIME_MS divided by EMBEDDED_SCAN_US_PER_EVENT' })
  },
  { $id: 'HealthWarning', additionalProperties: false, description: 'Something the operator should act on, although the service is ready.' }
)

export const HealthSchema = Type.Object(
  {
    status: StringEnum(['ok'], { description: 'Always ok: any other state is an error status' }),
    warnings: Type.Optional(
      Type.Array(Type.Ref(HealthWarningSchema), { description: 'Present only when there is something to act on (readiness only)' })
    )
  },
  { $id: 'Health', additionalProperties: false, description: "A probe's answer." }
)
