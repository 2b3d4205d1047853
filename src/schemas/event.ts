import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { BoundedString, DateTime, IpAddress, MAX_INTEGER, StringEnum } from './common.js'
import { DETAILS_LIMITS } from '../validation/safe-document.js'

/** A sample every Swagger UI "Try it out" starts from: the original brief's own example. */
export const BriefSampleEvent = {
  event_type: 'AccountCreated',
  username: 'john_mayor',
  entitytype: 'customer_account',
  ip: '192.168.0.1',
  location: 'New York',
  description: 'A new customer account was created for John Mayor',
  event_specificdetails: { account_number: '94859', email: 'john@gmail.com' }
}

/** The six invariant fields of the original brief, shared by input and stored events. */
export const commonFields = {
  event_type: BoundedString(128, { description: 'Type of event, e.g. AccountCreated, BillingCharged', examples: ['AccountCreated'] }),
  username: BoundedString(256, { description: 'User the event is about', examples: ['john_mayor'] }),
  entitytype: BoundedString(128, { description: 'Kind of entity involved', examples: ['customer_account'] }),
  ip: IpAddress,
  location: BoundedString(256, { description: 'Where or in which context it happened', examples: ['New York'] }),
  description: BoundedString(4096, {
    description: 'Human-readable summary',
    examples: ['A new customer account was created for John Mayor']
  })
}

/** Their names, derived from the schema: mappings, CSV columns and filters all iterate over this list. */
export const COMMON_FIELDS = Object.keys(commonFields) as Array<keyof typeof commonFields>
export const CommonFieldsSchema = Type.Object(commonFields)
export type CommonFields = Static<typeof CommonFieldsSchema>

/**
 * The one open object: any JSON, bounded in size and depth, keys safe to store (enforced by the
 * `x-safe-document` keyword, see validation/safe-document.ts).
 */
export const EventDetails = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      `Event-specific data, any JSON object: at most ${DETAILS_LIMITS.maxBytes / 1024} KiB serialized and ${DETAILS_LIMITS.maxDepth} levels deep; ` +
      'keys must not start with "$" or contain "." or NUL; an array must not directly contain an array.',
    examples: [BriefSampleEvent.event_specificdetails],
    'x-safe-document': DETAILS_LIMITS
  }
)

const EventId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'Your own id for this event: a repeat with the same event_id is stored once (idempotency key, per tenant)',
  examples: ['acct-94859-created']
})

export const EventInputSchema = Type.Object(
  {
    ...commonFields,
    event_specificdetails: Type.Optional(EventDetails),
    event_id: Type.Optional(EventId),
    occurred_at: Type.Optional(DateTime('When it happened at the source (RFC 3339); ordering and time filters use the receipt `timestamp`'))
  },
  {
    $id: 'EventInput',
    additionalProperties: false,
    description: 'An event as submitted: the six fields of the brief, optional details, event_id and occurred_at.',
    examples: [BriefSampleEvent]
  }
)
export type EventInput = Static<typeof EventInputSchema>

/** Position in the tenant's log: 1, 2, 3… with no hole the service did not record (GET /integrity/completeness). */
const Seq = Type.Integer({
  minimum: 1,
  maximum: MAX_INTEGER,
  description:
    "Position in your tenant's log: gapless, in commit order. Read everything after a position with GET /events?afterSeq=N&order=asc",
  examples: [42]
})

const LeafHash = Type.String({
  pattern: '^[0-9a-f]{64}$',
  maxLength: 64,
  description:
    'The event\'s leaf hash in your tenant\'s Merkle tree, hex: SHA-256 over 0x00 and the RFC 8785 canonical form of its leaf document (docs/integrity.md, "The leaf format"). Prove it with GET /events/{id}/proof',
  examples: ['3f0a8e1c9b7d4a6e2f5c8b1a0d9e7f6c5b4a3928170e6d5c4b3a291807f6e5d4']
})

/** The committed fields an erasure can empty (docs/erasure.md): they read back as null, named in `erased`. */
export const ERASABLE_FIELDS = ['username', 'ip', 'location', 'description'] as const
type ErasableField = typeof ERASABLE_FIELDS[number]
const erasedNote = ' Null once erased (the path is then in `erased`).'
/**
 * A personal field as the API returns it: the input's string schema, nullable. Written as OpenAPI 3.0's
 * `nullable` (Ajv and fast-json-stringify know it) rather than a union with null, which the document would
 * spell as an `anyOf` that generated SDKs turn into a type of their own per field.
 */
function nullable (schema: TSchema): TUnsafe<string | null> {
  const { anyOf: _formats, 'x-error-message': _message, examples, description, ...rest } = schema as Record<string, unknown>
  return Type.Unsafe<string | null>({
    ...rest,
    type: 'string',
    nullable: true,
    description: `${String(description)}.${erasedNote}`,
    examples
  })
}
const storedFields = Object.fromEntries(Object.entries(commonFields).map(([name, schema]) => [name,
  (ERASABLE_FIELDS as readonly string[]).includes(name) ? nullable(schema) : schema])) as
  { [K in keyof typeof commonFields]: K extends ErasableField ? TUnsafe<string | null> : typeof commonFields[K] }

const ServerId = Type.String({
  pattern: '^[0-9a-f]{24}$',
  maxLength: 24,
  description: 'Server-assigned id',
  examples: ['6650d1f2a1b2c3d4e5f60718']
})

/** An erased path: a field, or `event_specificdetails.` and a path that fits inside the details' size. */
const ERASED_PATH_MAX_LENGTH = 'event_specificdetails.'.length + DETAILS_LIMITS.maxBytes

const Base64url = (description: string) => Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 64, description })
const Commitment = Type.String({ pattern: '^[0-9a-f]{64}$', maxLength: 64, description: 'hex(SHA-256(salt ‖ JCS(value)))' })

/** What an erasure leaves on an event, and what a verifier needs to recompute its leaf without the erased values. */
const erasureFields = {
  erased: Type.Optional(
    Type.Array(Type.String({ maxLength: ERASED_PATH_MAX_LENGTH }), {
      // each a field or a leaf of event_specificdetails, and a leaf takes at least 4 bytes of it (`"a":0`)
      maxItems: ERASABLE_FIELDS.length + DETAILS_LIMITS.maxBytes / 4,
      description:
        'Paths whose value was erased by a data-subject request (POST /tenant/erasures): `username`, `ip`, `location`, `description` or ' +
        '`event_specificdetails.<dotted path>`. Each reads back as null; its commitment is in `commitments`',
      examples: [['username', 'event_specificdetails.email']]
    })
  ),
  commitments: Type.Optional(
    Type.Object(
      {},
      {
        additionalProperties: Commitment,
        description:
          'The commitment of each erased path, by path: what the leaf hash covers in place of the value (docs/integrity.md, "The leaf format")',
        examples: [{ username: '9c1185a5c5e9fc54612808977ee8f548b2258d31e1e0e1f0e6e4b3c8c5a4d2b1' }]
      }
    )
  ),
  salts: Type.Optional(
    Type.Object(
      {},
      {
        additionalProperties: Base64url('base64url salt of one path'),
        description:
          'After an erasure the seed (`salt`) is gone, since it would re-derive the erased salts: the salts of the paths still present, base64url, by path',
        examples: [{ ip: 'x2lY0BWQ6tHk3yEFnG1qGA' }]
      }
    )
  )
}

export const EventSchema = Type.Object(
  {
    id: ServerId,
    seq: Seq,
    timestamp: DateTime('Receipt time, assigned by the service; authoritative for ordering and time filters'),
    tenant: Type.String({ maxLength: 64, description: 'Tenant of the submitter' }),
    submitted_by: Type.String({ maxLength: 64, description: 'Username of the token that submitted it (`api-key:<id>` for an API key)' }),
    ...storedFields,
    event_specificdetails: Type.Optional(EventDetails),
    event_id: Type.Optional(EventId),
    occurred_at: Type.Optional(DateTime('When it happened at the source')),
    schema_version: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_INTEGER,
        description:
          "The version of its type's schema (GET /tenant/event-types/{event_type}/versions/{version}) that event_specificdetails passed when it was " +
          'stored; in clear in the leaf, so its proof shows it too. Absent: its type had no schema then'
      })
    ),
    hash: Type.Optional(LeafHash),
    salt: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          'base64url seed from which the salts of this event\'s commitments are derived (docs/integrity.md, "The leaf format"); with the fields above it lets anyone recompute `hash`. Absent once a field was erased (see `salts`)'
      })
    ),
    ...erasureFields
  },
  { $id: 'Event', additionalProperties: false, description: 'A stored event, as the service returns it.' }
)
export type Event = Static<typeof EventSchema>

const Hex64 = (description: string) => Type.String({ pattern: '^[0-9a-f]{64}$', maxLength: 64, description })

/** What a receipt's signature covers: src/verifier/receipt.ts, and docs/integrity.md "Receipts". */
export const ReceiptSchema = Type.Object(
  {
    tenant: BoundedString(64, { description: 'The tenant whose log promises the event' }),
    seq: Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: "The event's position in the tenant's log" }),
    leaf_hash: Hex64("The event's leaf hash, lowercase hex"),
    timestamp: DateTime("The event's timestamp: when the service received it, exactly as signed"),
    batch_size: Type.Integer({
      minimum: 1,
      maximum: MAX_INTEGER,
      description: "Receipt statements under the one signature (this tenant's events of one bulk write)"
    }),
    batch_index: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: "This statement's place among them, from 0" }),
    batch_path: Type.Array(Hex64('A sibling hash'), {
      maxItems: 64,
      description: "The statement's RFC 9162 inclusion path to the signed batch root, deepest sibling first"
    }),
    key_id: Type.String({ pattern: '^[0-9a-f]{16}$', maxLength: 16, description: 'Which key of GET /integrity/keys signed it' }),
    signature: Type.String({ minLength: 88, maxLength: 88, description: 'Ed25519 over the batch message, base64' })
  },
  {
    $id: 'Receipt',
    additionalProperties: false,
    description:
      'A signed promise, made when the event was stored, that the tenant\'s log holds this leaf at this seq. Keep it: `npm run verify -- --receipts FILE` checks it against the log (docs/integrity.md, "Receipts").'
  }
)

const duplicateNote =
  "For a duplicate, the first event's; left out only when it could not be looked up at that moment (GET /events/{id} has it)"

export const IngestResultSchema = Type.Object(
  {
    id: ServerId,
    seq: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: `The event's position in your tenant's log. ${duplicateNote}` })),
    timestamp: Type.Optional(DateTime(`Receipt time. ${duplicateNote}`)),
    hash: Type.Optional(
      Type.String({
        pattern: '^[0-9a-f]{64}$',
        maxLength: 64,
        description: `The event's leaf hash: your receipt, to check later against a signed checkpoint (GET /integrity/inclusion?seq=). ${duplicateNote}`
      })
    ),
    status: StringEnum(['created', 'duplicate'], {
      description: "`duplicate`: an event with this event_id was already stored; id, seq and timestamp are the first one's"
    }),
    conflict: Type.Optional(
      Type.Boolean({
        description:
          "Present (true) on a duplicate whose content differs from the stored event's: the stored event is unchanged; send a new event_id for a different event"
      })
    ),
    receipt: Type.Optional(Type.Ref(ReceiptSchema, { description: `The signed receipt. ${duplicateNote}` }))
  },
  { $id: 'IngestResult', additionalProperties: false, description: 'The outcome of POST /events: the event is stored.' }
)
export type IngestResult = Static<typeof IngestResultSchema>

/** The longest `error` a batch item carries (a tenant schema's failure is cut to it: event-types/schema-compiler.ts). */
export const ITEM_ERROR_MAX_LENGTH = 1024

export const BatchItemResultSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[0-9a-f]{24}$', maxLength: 24, description: 'Server-assigned id (not for status `error`)' })),
    seq: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: "The event's position in your tenant's log (created and duplicate)" })
    ),
    timestamp: Type.Optional(DateTime('Receipt time')),
    hash: Type.Optional(
      Type.String({ pattern: '^[0-9a-f]{64}$', maxLength: 64, description: "The event's leaf hash (created and duplicate): your receipt" })
    ),
    status: StringEnum(['created', 'duplicate', 'error'], {
      description:
        'created: stored; duplicate: this event_id was already stored (its first id and timestamp); error: not stored, `error` says why'
    }),
    conflict: Type.Optional(
      Type.Boolean({
        description: "Present (true) on a duplicate whose content differs from the stored event's: the stored event is unchanged"
      })
    ),
    error: Type.Optional(
      Type.String({
        maxLength: ITEM_ERROR_MAX_LENGTH,
        description:
          "Why this item was not stored (status `error`): its details refused by its type's schema (the path and the rule), its type not " +
          'registered in strict mode, refused by the database, or not written this time (retry it); the others are unaffected'
      })
    ),
    receipt: Type.Optional(
      Type.Ref(ReceiptSchema, { description: "The signed receipt (created, and a duplicate whose first event's seq is known)" })
    )
  },
  { $id: 'BatchItemResult', additionalProperties: false, description: 'The outcome of one event of a batch.' }
)
export type BatchItemResult = Static<typeof BatchItemResultSchema>

export const MAX_BATCH = 1000

export const BatchInputSchema = Type.Object(
  {
    events: Type.Array(Type.Ref(EventInputSchema), { minItems: 1, maxItems: MAX_BATCH, description: `1 to ${MAX_BATCH} events` })
  },
  {
    $id: 'EventBatch',
    additionalProperties: false,
    description: 'Events to record in one request.',
    examples: [{ events: [BriefSampleEvent] }]
  }
)

export const BatchResultSchema = Type.Object({
  items: Type.Array(Type.Ref(BatchItemResultSchema), { maxItems: MAX_BATCH, description: 'One per input event, in input order' })
}, { $id: 'BatchResult', additionalProperties: false, description: 'The outcome of POST /events/batch, item by item.' })
