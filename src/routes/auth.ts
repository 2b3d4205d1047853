import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { LoginRequestSchema, MeSchema, TokenSchema } from '../schemas/auth.js'
import { retryAfterSeconds } from '../plugins/external/rate-limit.js'
import { TooManyLoginsError } from '../errors.js'
import { LOGIN_BODY_LIMIT } from '../http/body-limits.js'
import { recordRefusedLogin } from '../plugins/app/audit/login-refusals.js'

export interface AuthRoutesOptions {
  /** Login attempts per client IP per window (@fastify/rate-limit), on top of the per-username limit. */
  maxPerIp: number
  windowSeconds: number
  /** The tenant of a login that names none (ADMIN_TENANT). */
  defaultTenant: string
}

const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async function authRoutes (fastify, options) {
  fastify.post(
    '/login',
    {
      bodyLimit: LOGIN_BODY_LIMIT,
      onError: recordRefusedLogin(fastify, options.defaultTenant),
      config: {
        auth: 'public',
        // the answer is a token (RFC 6749 §5.1)
        noStore: true,
        rateLimit: {
          max: options.maxPerIp,
          timeWindow: options.windowSeconds * 1000,
          // one code for both login limits (per address here, per username in the login service)
          errorResponseBuilder: (_request, context) => Object.assign(new TooManyLoginsError(), { retryAfter: retryAfterSeconds(context) })
        }
      },
      schema: {
        operationId: 'login',
        tags: ['auth'],
        summary: 'Exchange a username and password for an access token',
        description:
          'Usernames are per tenant: give `tenant`, or leave it out to log in to the default tenant (ADMIN_TENANT, ' +
          "the original single-field login). Unknown user, wrong password, another tenant's user and disabled user all answer the same 401. " +
          'With the embedded default database (no MONGODB_URL), the bootstrap user is `admin` and its password is in ' +
          '`data/admin-password.txt` (under DATA_DIR). Send the `access_token` as `Authorization: Bearer <token>` (in Swagger UI: Authorize).',
        body: Type.Ref(LoginRequestSchema),
        response: {
          200: Type.Ref(TokenSchema, { description: 'Logged in: the access token' }),
          ...errorResponses({
            400: 'Malformed body',
            401: 'Invalid username or password',
            413: 'Body over 8 KiB',
            429: 'Too many attempts for this username or from this address',
            503: 'Too many logins being checked at once'
          })
        }
      }
    },
    async function login (request) {
      return await fastify.loginService.login(request.body.username, request.body.password, request.ip, request.body.tenant)
    }
  )

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
    const { username, tenant, roles, expiresAt, scope } = request.principal
    return { username, tenant, roles, token_expires_at: expiresAt.toISOString(), ...(scope === undefined ? {} : { scope }) }
  })
}

export default authRoutes
