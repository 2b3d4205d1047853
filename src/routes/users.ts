import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { USER_LIST_MAX, UserInputSchema, UserChangesSchema, UserListSchema, UsernameParams, UserSchema } from '../schemas/auth.js'
import { DuplicateUserError, type StoredUser } from '../plugins/app/access/user-store.js'
import { ConflictError, NotFoundError } from '../errors.js'
import { USER_BODY_LIMIT } from '../http/body-limits.js'
import { auditUserChanged, auditUserCreated, auditUserDeleted, auditUserList, auditUserRead } from '../plugins/app/audit/entries.js'

const UserRef = (description: string) => Type.Ref(UserSchema, { description })

function toPublicUser (user: StoredUser) {
  return {
    username: user.username,
    tenant: user.tenant,
    roles: user.roles,
    disabled: user.disabled,
    created_at: user.created_at.toISOString()
  }
}

/** User management for admins, always inside the admin's own tenant. */
const userRoutes: FastifyPluginAsyncTypebox = async function userRoutes (fastify) {
  const admin = { roles: ['admin' as const] }

  fastify.post(
    '/users',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: { auth: admin, audit: auditUserCreated },
      schema: {
        operationId: 'createUser',
        tags: ['users'],
        summary: 'Create a user in your tenant',
        description: 'The user belongs to your own tenant; its password is hashed with argon2id and never returned.',
        body: Type.Ref(UserInputSchema),
        response: {
          201: UserRef('Created'),
          ...errorResponses({
            400: 'Invalid body (e.g. password shorter than 12 characters)',
            413: 'Body over 8 KiB',
            409: 'The username is taken in your tenant (usernames are per tenant)'
          })
        }
      }
    },
    async function createUser (request, reply) {
      try {
        const user = await fastify.userStore.create({ ...request.body, tenant: request.principal.tenant })
        return await reply.code(201).send(toPublicUser(user))
      } catch (err) {
        if (err instanceof DuplicateUserError) throw new ConflictError('A user with this username already exists')
        throw err
      }
    }
  )

  fastify.get('/users', {
    config: { auth: admin, audit: auditUserList },
    schema: {
      operationId: 'listUsers',
      tags: ['users'],
      summary: 'List the users of your tenant',
      description: 'Every user of your tenant, disabled ones included.',
      response: { 200: Type.Ref(UserListSchema, { description: 'The users' }) }
    }
  }, async function listUsers (request) {
    const users = await fastify.userStore.list(request.principal.tenant, USER_LIST_MAX)
    return { items: users.map(toPublicUser) }
  })

  fastify.get(
    '/users/:username',
    {
      config: { auth: admin, audit: auditUserRead },
      schema: {
        operationId: 'getUser',
        tags: ['users'],
        summary: 'One user of your tenant',
        description: 'A user of another tenant is exactly as absent as a missing one (404).',
        params: UsernameParams,
        response: {
          200: UserRef('The user'),
          ...errorResponses({ 400: 'Malformed username (e.g. longer than 64 characters)', 404: 'No such user in your tenant' })
        }
      }
    },
    async function getUser (request) {
      const user = await fastify.userStore.find(request.principal.tenant, request.params.username)
      if (user === null) throw new NotFoundError('User')
      return toPublicUser(user)
    }
  )

  fastify.patch(
    '/users/:username',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: { auth: admin, audit: auditUserChanged },
      schema: {
        operationId: 'updateUser',
        tags: ['users'],
        summary: 'Change roles, disable or enable, or set a new password',
        description: "The user's existing tokens stop working within seconds when roles, disabled state or password change.",
        params: UsernameParams,
        body: Type.Ref(UserChangesSchema),
        response: {
          200: UserRef('The user as changed'),
          ...errorResponses({ 400: 'Invalid body or malformed username', 404: 'No such user in your tenant', 413: 'Body over 8 KiB' })
        }
      }
    },
    async function updateUser (request) {
      const user = await fastify.userStore.update(request.principal.tenant, request.params.username, request.body)
      if (user === null) throw new NotFoundError('User')
      return toPublicUser(user)
    }
  )

  fastify.delete(
    '/users/:username',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: { auth: admin, audit: auditUserDeleted },
      schema: {
        operationId: 'deleteUser',
        tags: ['users'],
        summary: 'Delete a user of your tenant',
        description: 'Its tokens stop working within seconds. Its events stay: they are the audit log.',
        params: UsernameParams,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          ...errorResponses({ 400: 'Malformed username (e.g. longer than 64 characters)', 404: 'No such user in your tenant' })
        }
      }
    },
    async function deleteUser (request, reply) {
      const deleted = await fastify.userStore.delete(request.principal.tenant, request.params.username)
      if (!deleted) throw new NotFoundError('User')
      return await reply.code(204).send(null)
    }
  )
}

export default userRoutes
