import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { LoginRequestSchema, MeSchema, TokenSchema } from '../schemas/auth.js'

export interface AuthRoutesOptions {
  /** Login attempts per client IP per window (@fastify/rate-limit), on top of the per-username limit. */
  maxPerIp: number
  windowSeconds: number
}

const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async function authRoutes (fastify, options) {
  fastify.post('/login', {
    config: {
      auth: 'public',
      rateLimit: { max: options.maxPerIp, timeWindow: options.windowSeconds * 1000 }
    },
    schema: {
      operationId: 'login',
      tags: ['auth'],
      summary: 'Exchange a username and password for an access token',
      description: 'Unknown user, wrong password and disabled user all answer the same 401. ' +
        'With the embedded default database (no MONGODB_URL), the bootstrap user is `admin` and its password is in ' +
        '`data/admin-password.txt` (under DATA_DIR). Send the `access_token` as `Authorization: Bearer <token>` (in Swagger UI: Authorize).',
      body: Type.Ref(LoginRequestSchema),
      response: {
        200: Type.Ref(TokenSchema, { description: 'Logged in: the access token' }),
        ...errorResponses({ 400: 'Malformed body', 401: 'Invalid username or password', 429: 'Too many attempts for this username or from this address', 503: 'Too many logins being checked at once' })
      }
    }
  }, async function login (request) {
    return await fastify.loginService.login(request.body.username, request.body.password)
  })

  fastify.get('/me', {
    config: { auth: { roles: [] } },
    schema: {
      operationId: 'getMe',
      tags: ['auth'],
      summary: 'Who the token belongs to',
      description: 'The user, tenant and roles of the token, and when it expires.',
      response: { 200: Type.Ref(MeSchema, { description: 'The token\'s user' }) }
    }
  }, async function me (request) {
    const { username, tenant, roles, expiresAt } = request.principal
    return { username, tenant, roles, token_expires_at: expiresAt.toISOString() }
  })
}

export default authRoutes
