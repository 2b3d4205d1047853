import { Type } from '@sinclair/typebox'
import { ROLES } from './roles.js'
import { StringEnum } from './common.js'

/** GET /users answers the first this many users of a tenant (by creation). */
export const USER_LIST_MAX = 1000

export const RoleSchema = StringEnum(ROLES, {
  description: 'admin: manage users of the tenant; writer: submit events; reader: query events'
})

export const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]*$'
export const Username = Type.String({ minLength: 1, maxLength: 64, pattern: USERNAME_PATTERN, examples: ['alice'] })
export const MIN_PASSWORD_LENGTH = 12
export const NewPassword = Type.String({
  minLength: MIN_PASSWORD_LENGTH,
  maxLength: 1024,
  description: `At least ${MIN_PASSWORD_LENGTH} characters`
})

export const LoginRequestSchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64, examples: ['admin'] }),
    password: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: "With the embedded default database (no MONGODB_URL), the bootstrap admin's password is in data/admin-password.txt"
    }),
    tenant: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: "The user's tenant; without it, the default tenant (ADMIN_TENANT)" })
    )
  },
  {
    $id: 'LoginRequest',
    additionalProperties: false,
    description:
      "Credentials. With the embedded default database, user `admin`'s password is in `data/admin-password.txt` (under DATA_DIR).",
    examples: [{ username: 'admin', password: 'the contents of data/admin-password.txt' }]
  }
)

export const TokenSchema = Type.Object({
  access_token: Type.String({ maxLength: 4096, description: 'JWT to send as `Authorization: Bearer <token>`' }),
  token_type: StringEnum(['Bearer'], { description: 'Always Bearer' }),
  expires_in: Type.Integer({ minimum: 0, maximum: 86400, description: 'Seconds until the token expires (JWT_TTL)', examples: [900] })
}, { $id: 'Token', additionalProperties: false, description: 'An access token.' })

export const MeSchema = Type.Object({
  username: Type.String({ maxLength: 64, examples: ['admin'] }),
  tenant: Type.String({ maxLength: 64, examples: ['default'] }),
  roles: Type.Array(RoleSchema, { maxItems: ROLES.length }),
  token_expires_at: Type.String({ format: 'date-time', maxLength: 64, description: 'When this token expires' }),
  scope: Type.Optional(Type.Object({
    field: Type.String({ maxLength: 64 }),
    value: Type.String({ maxLength: 4096 })
  }, { additionalProperties: false, description: "A view link's fixed filter: the only events this key reads" }))
}, { $id: 'Me', additionalProperties: false, description: 'The user a token belongs to.' })

export const UserSchema = Type.Object({
  username: Type.String({ maxLength: 64, examples: ['alice'] }),
  tenant: Type.String({ maxLength: 64, examples: ['default'] }),
  roles: Type.Array(RoleSchema, { maxItems: ROLES.length }),
  disabled: Type.Boolean({ description: 'A disabled user cannot log in and its tokens are refused' }),
  created_at: Type.String({ format: 'date-time', maxLength: 64 })
}, { $id: 'User', additionalProperties: false, description: 'A user of your tenant (never its password).' })

export const UserListSchema = Type.Object({
  items: Type.Array(Type.Ref(UserSchema), { maxItems: USER_LIST_MAX, description: `The first ${USER_LIST_MAX}, by creation` })
}, { $id: 'UserList', additionalProperties: false, description: 'The users of your tenant.' })

export const UserInputSchema = Type.Object(
  {
    username: Username,
    password: NewPassword,
    roles: Type.Array(RoleSchema, { minItems: 1, maxItems: 3, uniqueItems: true })
  },
  {
    $id: 'UserInput',
    additionalProperties: false,
    description: 'A user to create in your tenant.',
    examples: [{ username: 'ingest-service', password: 'a-long-random-password', roles: ['writer'] }]
  }
)

export const UserChangesSchema = Type.Object(
  {
    roles: Type.Optional(Type.Array(RoleSchema, { minItems: 1, maxItems: 3, uniqueItems: true })),
    disabled: Type.Optional(Type.Boolean()),
    password: Type.Optional(NewPassword)
  },
  {
    $id: 'UserChanges',
    additionalProperties: false,
    minProperties: 1,
    description: 'What to change; at least one field.',
    examples: [{ roles: ['reader'] }]
  }
)

export const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })
