import { Type } from '@sinclair/typebox'
import { ROLES } from '../auth/roles.js'

export const RoleSchema = Type.Union(ROLES.map((role) => Type.Literal(role)), { description: 'admin: manage users of the tenant; writer: submit events; reader: query events' })

export const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]*$'
export const Username = Type.String({ minLength: 1, maxLength: 64, pattern: USERNAME_PATTERN, examples: ['alice'] })
export const MIN_PASSWORD_LENGTH = 12
export const NewPassword = Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024, description: `At least ${MIN_PASSWORD_LENGTH} characters` })

export const LoginBodySchema = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
  tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The user\'s tenant; without it, the default tenant (ADMIN_TENANT)' }))
}, { additionalProperties: false, examples: [{ username: 'admin', password: 'change-me-please' }] })

export const TokenSchema = Type.Object({
  access_token: Type.String({ description: 'JWT to send as `Authorization: Bearer <token>`' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the token expires' })
}, { additionalProperties: false })

export const MeSchema = Type.Object({
  username: Type.String(),
  tenant: Type.String(),
  roles: Type.Array(RoleSchema),
  token_expires_at: Type.String({ format: 'date-time' })
}, { additionalProperties: false })

export const UserSchema = Type.Object({
  username: Type.String(),
  tenant: Type.String(),
  roles: Type.Array(RoleSchema),
  disabled: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' })
}, { $id: 'User', additionalProperties: false })

export const NewUserSchema = Type.Object({
  username: Username,
  password: NewPassword,
  roles: Type.Array(RoleSchema, { minItems: 1, maxItems: 3, uniqueItems: true })
}, { additionalProperties: false, examples: [{ username: 'ingest-service', password: 'a-long-random-password', roles: ['writer'] }] })

export const UserChangesSchema = Type.Object({
  roles: Type.Optional(Type.Array(RoleSchema, { minItems: 1, maxItems: 3, uniqueItems: true })),
  disabled: Type.Optional(Type.Boolean()),
  password: Type.Optional(NewPassword)
}, { additionalProperties: false, minProperties: 1 })

export const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })
