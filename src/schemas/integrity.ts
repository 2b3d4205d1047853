import { Type, type Static } from '@sinclair/typebox'
import { HOLE_REASONS } from './hole-reasons.js'
import { MAX_INTEGER } from './common.js'

const Tenant = Type.String({ maxLength: 64 })

export const HOLE_REASON_VALUES = [...Object.keys(HOLE_REASONS), 'expired_by_policy', 'unexplained'] as Array<
  keyof typeof HOLE_REASONS | 'expired_by_policy' | 'unexplained'
>

export const SeqHoleSchema = Type.Object({
  from: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
  to: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
  reason: Type.Unsafe<typeof HOLE_REASON_VALUES[number]>({
    type: 'string',
    enum: HOLE_REASON_VALUES,
    description: 'Why these seqs hold no event. ' + Object.entries(HOLE_REASONS).map(([code, text]) => `\`${code}\`: ${text}.`).join(' ') +
      ' `expired_by_policy`: below the retention horizon, deleted by the tenant\'s retention policy (see retention_horizon).' +
      ' `unexplained`: the service recorded no reason, so an event was removed outside the service.'
  })
}, { $id: 'SeqHole', additionalProperties: false })

const SeqRange = Type.Object({
  first_seq: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_INTEGER }), Type.Null()], { description: 'Lowest seq of an event in range; null when none' }),
  last_seq: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_INTEGER }), Type.Null()], { description: 'Highest seq of an event in range; null when none' }),
  count: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Events in range' })
}, { additionalProperties: false })

export const CompletenessSchema = Type.Object(
  {
    tenant: Tenant,
    first_seq: Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'Where the log starts (1)' }),
    last_seq: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Every seq up to here is settled: an event or a recorded hole. 0 for an empty log' }),
    count: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Events stored with seq in first_seq..last_seq' }),
    complete: Type.Boolean({ description: 'True when every hole has a reason the service recorded' }),
    // a range per missing stretch: far fewer than the seqs a log of this service holds, and within every client's int32 sizes
    holes: Type.Array(Type.Ref(SeqHoleSchema), { maxItems: 2 ** 31 - 1, description: 'Seqs in first_seq..last_seq without an event, as ranges' }),
    in_flight: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Seqs reserved above last_seq by writes not yet settled' }),
    retention_horizon: Type.Optional(
      Type.Object(
        {
          seq: Type.Integer({
            minimum: 1,
            maximum: MAX_INTEGER,
            description: 'Every seq below this was expired by policy (the hole `expired_by_policy`); above it any missing seq still counts'
          }),
          expired_at: Type.String({ format: 'date-time', maxLength: 64, description: 'When the horizon was last moved' }),
          days: Type.Integer({ minimum: 0, maximum: 100000, description: 'The retention policy, in days, that allowed it' })
        },
        { additionalProperties: false, description: 'Present once retention has deleted events of the tenant' }
      )
    ),
    time_range: Type.Optional(
      Type.Object(
        {
          timeStart: Type.Optional(Type.String({ format: 'date-time', maxLength: 64 })),
          timeEnd: Type.Optional(Type.String({ format: 'date-time', maxLength: 64 })),
          ...SeqRange.properties
        },
        { additionalProperties: false, description: 'With timeStart/timeEnd: which seqs the events received in that range have' }
      )
    )
  },
  { $id: 'Completeness', additionalProperties: false }
)
export type Completeness = Static<typeof CompletenessSchema>

export const CompletenessQuerySchema = Type.Object({
  timeStart: Type.Optional(Type.String({ format: 'date-time', maxLength: 64, description: 'Receipt time from (inclusive), RFC 3339' })),
  timeEnd: Type.Optional(Type.String({ format: 'date-time', maxLength: 64, description: 'Receipt time until (exclusive), RFC 3339' }))
}, { additionalProperties: false })
export type CompletenessQuery = Static<typeof CompletenessQuerySchema>

/** An Ed25519 signature, base64: 64 bytes are 88 characters. */
const SIGNATURE_LENGTH = 88
/** A note: the checkpoint's three lines and room for witnesses' cosignature lines. */
const NOTE_LENGTH = 16384
/** A proof's hashes: one per level of a tree of at most 2^53 - 1 leaves. */
const MAX_PROOF_HASHES = 53

const Hash = Type.String({ pattern: '^[0-9a-f]{64}$', maxLength: 64, description: 'SHA-256, lowercase hex' })
const TreeSize = (description: string) => Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description })

export const CheckpointSchema = Type.Object(
  {
    tenant: Tenant,
    tree_size: Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'Leaves in the tree: seqs 1..tree_size' }),
    root_hash: Hash,
    issued_at: Type.String({
      format: 'date-time',
      maxLength: 64,
      description: 'When it was signed (signed only in checkpoints without a note, of the first format)'
    }),
    key_id: Type.String({ pattern: '^[0-9a-f]{16}$', maxLength: 16, description: 'Which key of GET /integrity/keys signed it' }),
    signature: Type.String({
      maxLength: SIGNATURE_LENGTH,
      description:
        'Ed25519, base64: over the note\'s text when there is a note; in checkpoints of the first format (no note), over the UTF-8 of ' +
        '"audit-log checkpoint v1\\n" + tenant + "\\n" + tree_size + "\\n" + root_hash + "\\n" + issued_at + "\\n"'
    }),
    note: Type.Optional(Type.String({
      maxLength: NOTE_LENGTH,
      description:
        'The checkpoint as a C2SP signed note (tlog-checkpoint): the origin (AUDIT_LOG_ORIGIN/tenant), tree_size, the root in base64, a blank ' +
        'line, and the signature line of the key named by the origin, which GET /integrity/keys?tenant= gives as verifier_key. ' +
        'The same text as GET /logs/{tenant}/checkpoint. Absent from checkpoints signed before the service spoke C2SP. ' +
        "Followed by the cosignature lines (C2SP tlog-cosignature) of the witnesses in WITNESSES that cosigned it, each checked against the witness's key."
    })),
    witnessed: Type.Optional(Type.Boolean({
      description: 'With a note: whether WITNESS_QUORUM of the configured witnesses cosigned it. Until then, not yet witnessed (false)'
    })),
    cosignatures: Type.Optional(Type.Array(
      Type.Object({
        witness: Type.String({ maxLength: 200, description: "The witness's key name" }),
        timestamp: Type.String({ format: 'date-time', maxLength: 64, description: 'When the witness cosigned it, as it signed' })
      }, { additionalProperties: false }),
      { maxItems: 100, description: 'With a note: the witnesses whose cosignature the note carries' }
    ))
  },
  {
    $id: 'Checkpoint',
    additionalProperties: false,
    description:
      "A signed statement that your tenant's Merkle tree of tree_size leaves has this root. Keep one outside the service: a later one must be consistent with it."
  }
)

export const RetentionHorizonSchema = Type.Object(
  {
    tenant: Tenant,
    horizon: Type.Integer({
      minimum: 1,
      maximum: MAX_INTEGER,
      description: 'Every event with a lower seq was deleted by retention; the tree keeps their leaves'
    }),
    expired_at: Type.String({ format: 'date-time', maxLength: 64, description: 'When the sweeper moved the horizon here, as signed' }),
    days: Type.Integer({ minimum: 0, maximum: 100000, description: 'The retention policy it applied, in days' }),
    policy_seq: Type.Optional(Type.Integer({
      minimum: 1,
      maximum: MAX_INTEGER,
      description:
        'The seq of the entry of your log (audit.admin.retention_changed) whose policy it applied: the verifier accepts the horizon ' +
        'only under that entry. Absent on a horizon signed before horizons named their policy (message v1)'
    })),
    key_id: Type.String({
      maxLength: 16,
      description:
        'Which key of GET /integrity/keys signed it (the checkpoint key); empty on a horizon recorded before horizons were signed'
    }),
    signature: Type.String({
      maxLength: SIGNATURE_LENGTH,
      description:
        'Ed25519, base64, over the UTF-8 of "audit-log retention horizon v2\\n" + tenant + "\\n" + horizon + "\\n" + expired_at + "\\n" + ' +
        'days + "\\n" + policy_seq + "\\n" (v1, without policy_seq: "audit-log retention horizon v1\\n" and the first five lines)'
    })
  },
  {
    $id: 'RetentionHorizon',
    additionalProperties: false,
    description:
      'A signed statement that every event of your tenant below seq horizon was expired by policy at expired_at. The verifier accepts those seqs being absent only under it.'
  }
)

export const CheckpointQuerySchema = Type.Object({
  tree_size: Type.Optional(TreeSize('The checkpoint of this tree size; default the newest')),
  min_tree_size: Type.Optional(
    TreeSize(
      'The newest checkpoint, once it covers at least this many seqs: the answer waits for it (five CHECKPOINT_INTERVAL_MS, 1 to 30 s; then 404), ' +
        'so that a checkpoint taken right after an export covers it'
    )
  )
}, { additionalProperties: false })

export const InclusionProofSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
    leaf_hash: Hash,
    tree_size: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
    audit_path: Type.Array(Hash, { maxItems: MAX_PROOF_HASHES, description: 'RFC 9162 inclusion proof of leaf index seq − 1, from the leaf upwards' })
  },
  {
    $id: 'InclusionProof',
    additionalProperties: false,
    description: 'Proves that the leaf at seq is in the tree of tree_size, whose root a checkpoint signs.'
  }
)

export const EventProofSchema = Type.Object(
  {
    ...InclusionProofSchema.properties,
    leaf: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description:
            "The event's leaf document, computed from its stored fields (docs/integrity.md, \"The leaf format\"): hex(SHA-256(0x00 ‖ RFC 8785 form)) " +
            'must equal leaf_hash. In clear: its id, seq, tenant, timestamp, submitted_by, event_type, entitytype, event_id, occurred_at and ' +
            "schema_version (the version of its type's schema its details passed: the contract the event met); its other fields as commitments",
          examples: [{ v: 1, id: '6650d1f2a1b2c3d4e5f60718', seq: 42, event_type: 'AccountCreated', schema_version: 2, commitments: {} }]
        }
      )
    )
  },
  {
    $id: 'EventProof',
    additionalProperties: false,
    description: "Proves that the event's leaf is in the tree of tree_size, and shows that leaf."
  }
)

export const InclusionQuerySchema = Type.Object({
  seq: Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'The seq your receipt gave' }),
  tree_size: Type.Optional(TreeSize('Prove against the tree of this size; default the newest checkpoint\'s'))
}, { additionalProperties: false })

export const EventProofQuerySchema = Type.Object({
  tree_size: Type.Optional(TreeSize('Prove against the tree of this size; default the newest checkpoint\'s'))
}, { additionalProperties: false })

export const ConsistencyProofSchema = Type.Object(
  {
    from: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
    to: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
    proof: Type.Array(Hash, { maxItems: 2 * MAX_PROOF_HASHES, description: 'RFC 9162 consistency proof' })
  },
  {
    $id: 'ConsistencyProof',
    additionalProperties: false,
    description: 'Proves that the tree of size `from` is a prefix of the tree of size `to`: nothing signed earlier was changed or removed.'
  }
)

export const ConsistencyQuerySchema = Type.Object({
  from: TreeSize('The smaller tree size (e.g. your kept checkpoint\'s)'),
  to: TreeSize('The larger tree size (e.g. the newest checkpoint\'s)')
}, { additionalProperties: false })

export const PublicKeySchema = Type.Object({
  key_id: Type.String({ pattern: '^[0-9a-f]{16}$', maxLength: 16, description: 'First 16 hex digits of SHA-256 over the raw public key' }),
  algorithm: Type.Literal('Ed25519'),
  public_key: Type.String({ maxLength: 44, description: 'The 32 raw bytes of the public key, base64' }),
  current: Type.Boolean({ description: 'True for the key new checkpoints are signed with' }),
  verifier_key: Type.Optional(Type.String({
    maxLength: 1024,
    description:
      "With ?tenant=: the key as a C2SP verifier key of that tenant's log (`<origin>+<key id>+<base64>`), what Go's sumdb/note, " +
      'witnesses and monitors are configured with'
  }))
}, { $id: 'PublicKey', additionalProperties: false })

export const KeyListSchema = Type.Object(
  {
    keys: Type.Array(Type.Ref(PublicKeySchema), { maxItems: 1000, description: 'Every key the service signs or signed with' }),
    origin: Type.Optional(Type.String({ maxLength: 1024, description: "With ?tenant=: that tenant's log origin, the first line of its checkpoints" }))
  },
  {
    $id: 'KeyList',
    additionalProperties: false,
    description: 'The checkpoint signing keys. Keep a copy outside the service: a key that appears here later is no proof of anything.'
  }
)

export const KeysQuerySchema = Type.Object({
  tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A tenant: adds its log origin and each key as its C2SP verifier key' }))
}, { additionalProperties: false })

export const TileParams = Type.Object({
  level: Type.Integer({ minimum: 0, maximum: 6, description: '0: leaf hashes; L+1: roots of full tiles of level L' }),
  index: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Which tile of the level, from 0' })
}, { additionalProperties: false })

export const TileSchema = Type.Object(
  {
    level: Type.Integer({ minimum: 0, maximum: 6 }),
    index: Type.Integer({ minimum: 0, maximum: MAX_INTEGER }),
    width: Type.Integer({ minimum: 1, maximum: 256, description: '256 for a full tile; fewer for the right edge of the tree' }),
    hashes: Type.Array(Hash, { maxItems: 256 })
  },
  {
    $id: 'Tile',
    additionalProperties: false,
    description:
      "Consecutive hashes of one level of your tenant's tree, in the manner of C2SP tlog-tiles: tile 0/i holds the leaf hashes of seqs 256·i+1 to 256·i+256."
  }
)

/** Who may follow a tenant's log from outside (PUT /tenant/log-access). */
export const LogAccessSchema = Type.Object({
  public: Type.Boolean({ description: "Anyone may read the log's checkpoints and hash tiles (/logs/{tenant}/...), without a credential" }),
  origin: Type.String({ maxLength: 1024, description: "The log's C2SP origin: the first line of its checkpoints" }),
  updated_at: Type.Optional(Type.String({ format: 'date-time', maxLength: 64 })),
  updated_by: Type.Optional(Type.String({ maxLength: 200 }))
}, { $id: 'LogAccess', additionalProperties: false, description: "Who may follow your tenant's log from outside" })

export const LogAccessInputSchema = Type.Object({
  public: Type.Boolean({ description: 'true: anyone may read the checkpoints and hash tiles; false: only your readers and monitors' })
}, { $id: 'LogAccessInput', additionalProperties: false })
