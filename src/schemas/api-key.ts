import { Type, type Static } from '@sinclair/typebox'
import { DateTime, StringEnum } from './common.js'
import { FieldFilterProperties } from './event-query.js'

/**
 * The roles a key may hold. Not admin: a key is a credential a sending system stores in its configuration, where it
 * leaks more easily than a person's password; an admin key, once leaked, could mint further keys and users and so
 * outlive its own revocation. Managing the tenant stays with people, who log in.
 */
export const API_KEY_ROLES = ['writer', 'reader', 'monitor'] as const
export type ApiKeyRole = typeof API_KEY_ROLES[number]

const ApiKeyRoles = Type.Array(
  StringEnum(API_KEY_ROLES, { description: 'writer: submit events; reader: query events; monitor: read checkpoints, hash tiles and consistency proofs only (#27). Never admin' }),
  { minItems: 1, maxItems: API_KEY_ROLES.length, uniqueItems: true }
)
const Name = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'Which client holds the key. Not unique: while a client switches to a new key, two keys may share its name',
  examples: ['billing-service']
})
/**
 * A scoped view link's fixed filter (#30): the key reads only events whose field has this value, whatever the
 * request asks; the service adds it to every read and refuses every other route. A key with a scope is read-only.
 */
const Scope = Type.Object({
  field: StringEnum(Object.keys(FieldFilterProperties) as Array<keyof typeof FieldFilterProperties>, { description: 'The field fixed' }),
  value: Type.String({ minLength: 1, maxLength: 4096, description: 'Its one value' })
}, {
  additionalProperties: false,
  description: 'A view link: the key sees only the events whose `field` is `value` (search, detail, Verify), and nothing else; roles must be [reader]'
})
export type ApiKeyScope = Static<typeof Scope>

const KeyId = Type.String({ minLength: 24, maxLength: 24, pattern: '^[0-9a-f]{24}$', description: 'The key id: the part after `alk_`' })

export const ApiKeyInputSchema = Type.Object(
  {
    name: Name,
    roles: ApiKeyRoles,
    expires_at: Type.Optional(
      Type.String({ format: 'date-time', maxLength: 64, description: 'When the key stops working; in the future. Default: never' })
    ),
    scope: Type.Optional(Scope)
  },
  { $id: 'ApiKeyInput', additionalProperties: false, description: 'An API key to create.' }
)
export type ApiKeyInput = Static<typeof ApiKeyInputSchema>

export const ApiKeySchema = Type.Object(
  {
    id: KeyId,
    name: Name,
    roles: ApiKeyRoles,
    prefix: Type.String({
      minLength: 28,
      maxLength: 28,
      description: 'The start of the key, `alk_<id>`: how to recognise it in a client\'s configuration (the secret follows it)'
    }),
    created_at: DateTime('When it was created'),
    created_by: Type.String({ minLength: 1, maxLength: 64, description: 'The admin who created it' }),
    expires_at: Type.Optional(DateTime('When it stops working; absent: never')),
    expired: Type.Boolean({ description: 'Past its expiry: refused (401); revoke it to free its place' }),
    scope: Type.Optional(Scope),
    last_used_at: Type.Optional(
      DateTime('The start of the last minute in which it authenticated a request (coarse: at most a minute late); absent: never used')
    )
  },
  { $id: 'ApiKey', additionalProperties: false, description: 'An API key, without its secret (shown only when it is created).' }
)
export type ApiKey = Static<typeof ApiKeySchema>

export const CreatedApiKeySchema = Type.Object(
  {
    ...ApiKeySchema.properties,
    key: Type.String({
      minLength: 72,
      maxLength: 72,
      description: 'The key, to send as `Authorization: Bearer <key>`. Shown this once: only a hash of it is stored'
    })
  },
  { $id: 'CreatedApiKey', additionalProperties: false, description: 'A new API key, with the key itself.' }
)

export const ApiKeyListSchema = Type.Object(
  { items: Type.Array(Type.Ref(ApiKeySchema), { maxItems: 10000 }) },
  { $id: 'ApiKeyList', additionalProperties: false, description: "The tenant's API keys, oldest first." }
)

export const ApiKeyIdParams = Type.Object({ id: KeyId }, { additionalProperties: false })
