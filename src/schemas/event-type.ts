import { Type, type Static } from '@sinclair/typebox'
import { DateTime, MAX_INTEGER } from './common.js'
import { EventDetails } from './event.js'

/**
 * The per-tenant registry of event types (plugins/app/event-types/): a JSON Schema (draft 2020-12) for a type's
 * `event_specificdetails`, a description and an example, versioned. The tenant's schema is open JSON, so its
 * components here are open objects; what a schema may hold is checked by the service (schema-policy.ts).
 */

/** What a tenant's schema may be: bounds that keep compiling and running it cheap (docs/event-types.md, "Hostile schemas"). */
export const SCHEMA_LIMITS = {
  /** The schema as compact JSON, in bytes. */
  maxBytes: 32 * 1024,
  /** Nesting of objects and arrays in the schema document. */
  maxDepth: 32,
  /** One `pattern` or `patternProperties` key, in characters. */
  maxPatternLength: 256,
  /** `uniqueItems` compares items pairwise: only on arrays bounded to this many. */
  maxUniqueItems: 256
} as const

const EventTypeName = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'The event_type this entry describes, exactly as events carry it (compared with case)',
  examples: ['AccountCreated']
})

const Version = Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'The version: 1 for the first, one more for each change' })

const TenantSchema = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      `A JSON Schema (draft 2020-12) for the type's event_specificdetails: an object schema, at most ${SCHEMA_LIMITS.maxBytes / 1024} KiB ` +
      `and ${SCHEMA_LIMITS.maxDepth} levels deep; \`$ref\` local only (\`#...\`), no \`$id\`; patterns at most ${SCHEMA_LIMITS.maxPatternLength} ` +
      'characters, without backreferences, lookarounds or nested quantifiers; `uniqueItems` only with `maxItems` up to ' +
      `${SCHEMA_LIMITS.maxUniqueItems}; unknown keywords and formats refused (Ajv strict mode)`,
    examples: [
      {
        type: 'object',
        properties: {
          account_number: { type: 'string', pattern: '^[0-9]{5}$', maxLength: 5 },
          email: { type: 'string', format: 'email', maxLength: 254 }
        },
        required: ['account_number'],
        additionalProperties: false
      }
    ]
  }
)

const Description = Type.String({
  minLength: 1,
  maxLength: 4096,
  description: 'What the type records, for people: the viewer shows it beside the type',
  examples: ['A customer account was created']
})

export const EventTypeInputSchema = Type.Object(
  {
    schema: TenantSchema,
    description: Description,
    example: Type.Optional(
      Type.Unsafe<Record<string, unknown>>({
        ...EventDetails,
        description:
          'An example of event_specificdetails; the schema must accept it (a change whose schema refuses it is refused). Left out, the previous ' +
          "version's example is kept, and must pass the new schema too"
      })
    ),
    deprecated: Type.Optional(Type.Boolean({ description: 'Still accepted and validated, but listed as deprecated. Default false' }))
  },
  { $id: 'EventTypeInput', additionalProperties: false, description: 'A new version of an event type.' }
)
export type EventTypeInput = Static<typeof EventTypeInputSchema>

export const EventTypeSchema = Type.Object(
  {
    event_type: EventTypeName,
    version: Version,
    description: Description,
    schema: TenantSchema,
    example: Type.Optional(Type.Unsafe<Record<string, unknown>>({ ...EventDetails, description: 'An example of event_specificdetails' })),
    deprecated: Type.Boolean({ description: 'Listed as deprecated; its events are still accepted and validated' }),
    created_at: DateTime('When this version was made'),
    created_by: Type.String({ minLength: 1, maxLength: 64, description: 'The admin who made it' }),
    log_seq: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'The seq of the entry of your log that records it (audit.admin.event_type_changed)' })
    )
  },
  {
    $id: 'EventType',
    additionalProperties: false,
    description: 'One version of an event type. Versions are kept and never edited: a change makes the next version.'
  }
)
export type EventType = Static<typeof EventTypeSchema>

export const EventTypeSummarySchema = Type.Object(
  {
    event_type: EventTypeName,
    version: Version,
    description: Description,
    deprecated: Type.Boolean({ description: 'Listed as deprecated' }),
    created_at: DateTime('When its current version was made')
  },
  { $id: 'EventTypeSummary', additionalProperties: false, description: 'An event type as listed: its current version, without schema.' }
)

export const EventTypeListSchema = Type.Object(
  {
    items: Type.Array(Type.Ref(EventTypeSummarySchema), { maxItems: 10000, description: 'Every registered type, by name' }),
    strict: Type.Boolean({ description: 'True when events of a type not listed here are refused (strict mode)' })
  },
  { $id: 'EventTypeList', additionalProperties: false, description: "Your tenant's event types." }
)

export const EventTypePolicySchema = Type.Object(
  {
    strict: Type.Boolean({
      description: 'True: an event whose type is not registered is refused (400). False (the default): it is accepted without validation'
    })
  },
  { $id: 'EventTypePolicy', additionalProperties: false, description: 'Whether your tenant accepts events of unregistered types.' }
)
export type EventTypePolicy = Static<typeof EventTypePolicySchema>

export const EventTypeParams = Type.Object({ event_type: EventTypeName }, { additionalProperties: false })
export const EventTypeVersionParams = Type.Object({ event_type: EventTypeName, version: Version }, { additionalProperties: false })

/** A JSON document of open shape: the OpenAPI fragment of one type, for code generators. */
export const EventTypeOpenApiSchema = Type.Object(
  {},
  {
    $id: 'EventTypeOpenApi',
    additionalProperties: true,
    description:
      'An OpenAPI 3.1 document whose components hold the type\'s details schema (`<Type>Details`) and an EventInput example of the type: ' +
      'what a client generator (openapi-typescript, openapi-generator) turns into a typed model'
  }
)
