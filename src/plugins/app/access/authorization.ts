import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import type { Role } from '../../../schemas/roles.js'
import { errorResponses } from '../../../schemas/common.js'
import { ForbiddenError, UnauthorizedError } from '../../../errors.js'
import { userKey, type StoredUser } from './user-store.js'
import type { AccessTokenClaims } from '../../external/jwt.js'
import { audienceWithinPolicy, claimsWithinPolicy, headerWithinPolicy } from './token-claims.js'
import { appendOnRequest } from '../http/route-hooks.js'
import { DOCS_PREFIX, OPENAPI_PATH } from '../../../http/doc-paths.js'
import { extractBearerToken } from '../../external/jwt.js'
import { sameSecret } from './shared-secret.js'

/**
 * Every route says who may call it, in `config.auth`:
 *   - `{ roles: ['writer'] }`: a valid token whose user holds one of these roles;
 *   - `{ roles: [] }`: any valid token (e.g. GET /me);
 *   - `'public'`: no token (health, login);
 *   - `'metrics-token'`: METRICS_TOKEN as the bearer token, and nothing else (GET /metrics, for a scraper
 *     that should hold no user's token); refused while METRICS_TOKEN is unset.
 * A route that says nothing makes the app refuse to start: deny by default. The documentation routes
 * of @fastify/swagger-ui are the one exception, by prefix.
 */
export type RouteAuth = 'public' | 'metrics-token' | { roles: Role[] }

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth
  }
  interface FastifyRequest {
    principal: Principal
  }
  interface FastifyInstance {
    authorization: Authorization
  }
}

/** The check a request passed, again, for work that outlives the request's start (an open stream). */
export interface Authorization {
  /** AUTH_CACHE_MS: a revocation is seen by every check made this long after it. */
  readonly cacheMs: number
  /**
   * Whether the request's token and its user still pass the check the request passed when it began (the user's
   * current state, through the same cache), and the user still holds a role the route requires. False for a
   * request that was never authorized by a token. Throws when the user's state cannot be read.
   */
  stillAuthorized: (request: FastifyRequest) => Promise<boolean>
}

export interface Principal {
  username: string
  tenant: string
  roles: Role[]
  expiresAt: Date
}

const UNDECLARED_ALLOWED = [DOCS_PREFIX, OPENAPI_PATH]
const CACHE_MAX_ENTRIES = 10000

interface CachedUser { user: StoredUser | null, fetchedAt: number }

export interface AuthorizationOptions {
  /** How long a user's state is trusted before it is read again: revocations apply within it. */
  cacheMs: number
  /** JWT_TTL: a token living longer than this (plus the clock skew) was not issued by this service's policy. */
  tokenTtlSeconds: number
  /** METRICS_TOKEN: the one bearer token of `'metrics-token'` routes; unset, they refuse everyone. */
  metricsToken?: string
}

async function authorizationPlugin (fastify: FastifyInstance, options: AuthorizationOptions) {
  const cache = new Map<string, CachedUser>()

  /** The user behind a token, at most `cacheMs` old: no database round trip on most requests. */
  async function currentUser (tenant: string, username: string): Promise<StoredUser | null> {
    const key = userKey(tenant, username)
    const hit = cache.get(key)
    if (hit !== undefined && Date.now() - hit.fetchedAt < options.cacheMs) return hit.user
    // stamped when the read starts, not when it answers: a read that began before a revocation and answered after
    // it must not be trusted for a whole cacheMs past the revocation
    const fetchedAt = Date.now()
    const user = await fastify.userStore.find(tenant, username)
    cache.delete(key)
    if (cache.size >= CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value as string)
    cache.set(key, { user, fetchedAt })
    return user
  }

  async function authenticate (request: FastifyRequest): Promise<{ principal: Principal, claims: AccessTokenClaims }> {
    let claims: AccessTokenClaims
    try {
      claims = await request.jwtVerify<AccessTokenClaims>()
    } catch {
      // every token failure (expired, forged, wrong alg, future nbf, malformed header) is the same 401
      throw new UnauthorizedError()
    }
    // a well-signed token can still carry claims of the wrong type (`sub` an object crashed userKey: a 500)
    if (
      typeof claims.sub !== 'string' ||
      typeof claims.tenant !== 'string' ||
      !Array.isArray(claims.roles) ||
      typeof claims.ver !== 'number' ||
      typeof claims.uid !== 'string' ||
      !claimsWithinPolicy(claims, options.tokenTtlSeconds) ||
      !audienceWithinPolicy(claims) ||
      !headerWithinPolicy(extractBearerToken(request) ?? '')
    ) {
      throw new UnauthorizedError()
    }
    const principal = await currentPrincipal(claims)
    if (principal === null) throw new UnauthorizedError()
    return { principal, claims }
  }

  /** The principal of verified claims by the user's current state (cached), or null when the token is revoked. */
  async function currentPrincipal (claims: AccessTokenClaims): Promise<Principal | null> {
    const user = await currentUser(claims.tenant, claims.sub)
    // a disabled, deleted, moved or re-roled user's tokens stop working, and so do those from before a password
    // change or of an earlier user of the same name (another incarnation)
    if (
      user === null ||
      user.disabled ||
      user.uid !== claims.uid ||
      user.tenant !== claims.tenant ||
      !sameRoles(user.roles, claims.roles) ||
      claims.ver !== (user.token_version ?? 0)
    ) {
      return null
    }
    return { username: user.username, tenant: user.tenant, roles: user.roles, expiresAt: new Date(claims.exp * 1000) }
  }

  /** What each authorized request was granted on, for stillAuthorized; gone with the request. */
  const grants = new WeakMap<FastifyRequest, { claims: AccessTokenClaims, roles: Role[] }>()

  fastify.decorate('authorization', {
    cacheMs: options.cacheMs,
    async stillAuthorized (request: FastifyRequest): Promise<boolean> {
      const grant = grants.get(request)
      if (grant === undefined || grant.claims.exp * 1000 <= Date.now()) return false
      const principal = await currentPrincipal(grant.claims)
      return principal !== null && holdsRole(principal, grant.roles)
    }
  } satisfies Authorization)

  fastify.decorateRequest('principal', null as unknown as Principal)

  fastify.addHook('onRoute', function enforceRouteAuth (route: RouteOptions) {
    const auth = route.config?.auth
    if (auth === undefined) {
      if (UNDECLARED_ALLOWED.some((prefix) => route.url === prefix || route.url.startsWith(prefix + '/'))) return
      throw new Error(`route ${String(route.method)} ${route.url} declares no config.auth: every route must say who may call it`)
    }
    if (auth === 'metrics-token') {
      route.schema = {
        ...route.schema,
        security: [{ metricsToken: [] }],
        response: {
          ...errorResponses({ 401: 'Missing or wrong METRICS_TOKEN (or none is configured)' }),
          ...(route.schema?.response as object | undefined)
        }
      }
      appendOnRequest(route, async function checkMetricsToken (request: FastifyRequest) {
        if (!sameSecret(extractBearerToken(request), options.metricsToken)) throw new UnauthorizedError()
      })
      return
    }
    if (auth === 'public') {
      // said explicitly, so that neither a document-wide default nor a reader takes it for protected
      route.schema = { ...route.schema, security: [] }
      return
    }

    route.schema = {
      ...route.schema,
      security: [{ bearerAuth: [] }],
      description: [route.schema?.description, requirementText(auth.roles)].filter(Boolean).join('\n\n'),
      response: {
        ...errorResponses({ 401: 'Missing, invalid or expired token', 403: 'The token lacks the required role' }),
        ...(route.schema?.response as object | undefined)
      }
    }
    // after the route's rate limit (@fastify/rate-limit's onRequest hook), so a flood of bad tokens is counted and refused
    appendOnRequest(route, async function authorize (request: FastifyRequest) {
      const { principal, claims } = await authenticate(request)
      if (!holdsRole(principal, auth.roles)) throw new ForbiddenError(auth.roles.join(' or '))
      request.principal = principal
      grants.set(request, { claims, roles: auth.roles })
    })
  })
}

/** Whether the principal holds one of the roles (any principal, when none is required). */
function holdsRole (principal: Principal, roles: Role[]): boolean {
  return roles.length === 0 || roles.some((role) => principal.roles.includes(role))
}

function sameRoles (a: Role[], b: Role[]): boolean {
  return a.length === b.length && a.every((role) => b.includes(role))
}

function requirementText (roles: Role[]): string {
  return roles.length === 0 ? 'Requires a valid bearer token.' : `Requires a bearer token with the role: ${roles.join(' or ')}.`
}

export default fp(authorizationPlugin, { fastify: '5.x', name: 'authorization', dependencies: ['jwt', 'user-store'] })
