import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import type { Role } from '../../../schemas/roles.js'
import { errorResponses } from '../../../schemas/common.js'
import { ForbiddenError, OtherTenantError, UnauthorizedError } from '../../../errors.js'
import { userKey, type StoredUser } from './user-store.js'
import type { AccessTokenClaims } from '../../external/jwt.js'
import { audienceWithinPolicy, claimsWithinPolicy, headerWithinPolicy } from './token-claims.js'
import { appendOnRequest } from '../http/route-hooks.js'
import { DOCS_PREFIX, OPENAPI_PATH } from '../../../http/doc-paths.js'
import { extractBearerToken, VERIFIED_TOKEN_CACHE_ENTRIES } from '../../external/jwt.js'
import { FreshRecords } from '../storage/fresh-records.js'
import { VerifiedTokens } from './verified-tokens.js'
import { sameSecret } from './shared-secret.js'
import { API_KEY_PREFIX, apiKeyId, hashApiKey, sameHash, type StoredApiKey } from './api-key-store.js'
import { API_KEY_BUCKET } from '../../external/rate-limit.js'
import { requestOrigin, type RequestOrigin } from '../../../http/request-origin.js'

/**
 * Every route says who may call it, in `config.auth`:
 *   - `{ roles: ['writer'] }`: a valid token whose user holds one of these roles, or an API key holding one;
 *   - `{ roles: [] }`: any valid token or API key (e.g. GET /me);
 *   - `{ roles, tenantParam, publicWhen }`: as roles, of the tenant the path names, or no one when publicWhen says so;
 *   - `'public'`: no token (health, login);
 *   - `'metrics-token'`: METRICS_TOKEN as the bearer token, and nothing else (GET /metrics, for a scraper
 *     that should hold no user's token); refused while METRICS_TOKEN is unset.
 * A route that says nothing makes the app refuse to start: deny by default. The documentation routes
 * of @fastify/swagger-ui are the one exception, by prefix.
 */
export type RouteAuth = 'public' | 'metrics-token' | RoleAuth

export interface RoleAuth {
  roles: Role[]
  /** A path parameter naming a tenant (`/logs/{tenant}/...`): the caller must be of that tenant. */
  tenantParam?: string
  /** When this says so, the request needs no credential at all (a tenant's log made public). */
  publicWhen?: (request: FastifyRequest) => Promise<boolean>
}

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
  /**
   * The rate-limit bucket of a request carrying an API key this replica verified within AUTH_CACHE_MS and still
   * holds good (`api-key:<id>`), else undefined (counted by address). Reads nothing: it runs before authentication,
   * so a made-up key must not cost a database read, nor escape its address's limit.
   */
  rateLimitKey: (request: FastifyRequest) => string | undefined
  /**
   * The principal of the request's token or API key when it is valid and holds one of `roles`, else undefined (no
   * credential, a bad one, a lacking role): for a public route that answers more to a caller it knows (Swagger UI's
   * document). Throws only when the user's state cannot be read.
   */
  principalOf: (request: FastifyRequest, roles: Role[]) => Promise<Principal | undefined>
}

export interface Principal {
  /** The user's name, or `api-key:<id>` for an API key (no username can contain `:`). */
  username: string
  tenant: string
  roles: Role[]
  /** When the token expires, or the API key (NO_EXPIRY for a key without one). */
  expiresAt: Date
  /** The id of the API key that authenticated the request; absent for a token. */
  apiKey?: string
  /** A view link's fixed filter: every read is confined to it, every other route refused (events/link-scope.ts). */
  scope?: { field: string, value: string }
}

/** The expiry a principal of a key without one is given: a date every client can parse, and no timer can reach. */
export const NO_EXPIRY = new Date('9999-12-31T23:59:59.999Z')

const UNDECLARED_ALLOWED = [DOCS_PREFIX, OPENAPI_PATH]
const CACHE_MAX_ENTRIES = 10000

/** What a request was authorized by, checked again by stillAuthorized. */
type Credential = { kind: 'token', claims: AccessTokenClaims } | { kind: 'key', id: string, hash: string }

export interface AuthorizationOptions {
  /** How long a user's state is trusted before it is read again: revocations apply within it. */
  cacheMs: number
  /** JWT_TTL: a token living longer than this (plus the clock skew) was not issued by this service's policy. */
  tokenTtlSeconds: number
  /** METRICS_TOKEN: the one bearer token of `'metrics-token'` routes; unset, they refuse everyone. */
  metricsToken?: string
}

async function authorizationPlugin (fastify: FastifyInstance, options: AuthorizationOptions) {
  const users = new FreshRecords<StoredUser>(options.cacheMs, CACHE_MAX_ENTRIES)
  const keys = new FreshRecords<StoredApiKey>(options.cacheMs, CACHE_MAX_ENTRIES)
  const verifiedTokens = new VerifiedTokens(VERIFIED_TOKEN_CACHE_ENTRIES, options.tokenTtlSeconds * 1000)

  /** The user behind a token, at most `cacheMs` old: no database round trip on most requests. */
  async function currentUser (tenant: string, username: string): Promise<StoredUser | null> {
    return await users.get(userKey(tenant, username), async () => await fastify.userStore.find(tenant, username))
  }

  /** An API key by id, at most `cacheMs` old, as a user is: a revoked key is refused everywhere within it. */
  async function currentKey (id: string): Promise<StoredApiKey | null> {
    return await keys.get(id, async () => await fastify.apiKeyStore.find(id))
  }

  /** The principal of a key, by its record now (cached); null when the key is unknown, revoked, expired or not this one. */
  function keyPrincipal (key: StoredApiKey | null, hash: string, now = Date.now()): Principal | null {
    if (key === null || !sameHash(key.key_sha256, hash)) return null
    if (key.expires_at !== undefined && key.expires_at.getTime() <= now) return null
    const principal: Principal = { username: `api-key:${key._id}`, tenant: key.tenant, roles: key.roles, expiresAt: key.expires_at ?? NO_EXPIRY, apiKey: key._id }
    if (key.scope !== undefined) principal.scope = key.scope
    return principal
  }

  /** A key past its expiry is recorded in its tenant's log, once (not awaited: the refusal is answered as any other). */
  function noteExpiry (key: StoredApiKey | null, hash: string, origin: RequestOrigin, log: FastifyRequest['log']): void {
    if (key?.expires_at === undefined || key.expires_at.getTime() > Date.now() || !sameHash(key.key_sha256, hash)) return
    fastify.apiKeys.recordExpiry(key, origin).catch((err: unknown) => log.error({ err, api_key: key._id }, 'an API key expiry could not be recorded'))
  }

  async function authenticateKey (request: FastifyRequest, token: string): Promise<{ principal: Principal, credential: Credential }> {
    const id = apiKeyId(token)
    if (id === undefined) throw new UnauthorizedError()
    const hash = hashApiKey(token)
    const key = await currentKey(id)
    const principal = keyPrincipal(key, hash)
    if (principal === null) {
      noteExpiry(key, hash, requestOrigin(request), request.log)
      throw new UnauthorizedError()
    }
    // the coarse last use: one write per key per minute from this replica, not awaited, never failing the request
    fastify.apiKeyStore.touch({ _id: id, tenant: principal.tenant })
      .catch((err: unknown) => request.log.warn({ err, api_key: id }, 'the last use of an API key could not be recorded'))
    return { principal, credential: { kind: 'key', id, hash } }
  }

  /** The token's own checks, once per token while it lives (verified-tokens.ts); every failure is the same 401. */
  async function verifyToken (request: FastifyRequest, bearer: string | undefined): Promise<AccessTokenClaims> {
    let claims: AccessTokenClaims
    try {
      claims = await request.jwtVerify<AccessTokenClaims>()
    } catch {
      // every token failure (expired, forged, wrong alg, future nbf, malformed header) is the same 401
      throw new UnauthorizedError()
    }
    // a well-signed token can still carry claims of the wrong type (`sub` an object crashed userKey: a 500)
    if (
      bearer === undefined ||
      typeof claims.sub !== 'string' ||
      typeof claims.tenant !== 'string' ||
      !Array.isArray(claims.roles) ||
      typeof claims.ver !== 'number' ||
      typeof claims.uid !== 'string' ||
      !claimsWithinPolicy(claims, options.tokenTtlSeconds) ||
      !audienceWithinPolicy(claims) ||
      !headerWithinPolicy(bearer)
    ) {
      throw new UnauthorizedError()
    }
    verifiedTokens.remember(bearer, claims)
    return claims
  }

  async function authenticate (request: FastifyRequest): Promise<{ principal: Principal, credential: Credential }> {
    const bearer = extractBearerToken(request)
    // a key is told from a JWT by its prefix (a JWT starts with its base64url header, `eyJ`)
    if (bearer?.startsWith(API_KEY_PREFIX) === true) return await authenticateKey(request, bearer)
    const claims = (bearer === undefined ? undefined : verifiedTokens.get(bearer)) ?? await verifyToken(request, bearer)
    const principal = await currentPrincipal(claims)
    if (principal === null) throw new UnauthorizedError()
    return { principal, credential: { kind: 'token', claims } }
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
  const grants = new WeakMap<FastifyRequest, { credential: Credential, roles: Role[] }>()

  fastify.decorate('authorization', {
    cacheMs: options.cacheMs,
    async stillAuthorized (request: FastifyRequest): Promise<boolean> {
      const grant = grants.get(request)
      if (grant === undefined) return false
      const { credential } = grant
      let principal: Principal | null
      if (credential.kind === 'key') {
        const key = await currentKey(credential.id)
        principal = keyPrincipal(key, credential.hash)
        if (principal === null) noteExpiry(key, credential.hash, requestOrigin(request), request.log)
      } else {
        if (credential.claims.exp * 1000 <= Date.now()) return false
        principal = await currentPrincipal(credential.claims)
      }
      return principal !== null && holdsRole(principal, grant.roles)
    },
    rateLimitKey (request: FastifyRequest): string | undefined {
      const bearer = extractBearerToken(request)
      if (bearer?.startsWith(API_KEY_PREFIX) !== true) return undefined
      const id = apiKeyId(bearer)
      const key = id === undefined ? undefined : keys.peek(id)
      if (key === undefined) return undefined
      return keyPrincipal(key, hashApiKey(bearer)) === null ? undefined : API_KEY_BUCKET + String(id)
    },
    async principalOf (request: FastifyRequest, roles: Role[]): Promise<Principal | undefined> {
      if (extractBearerToken(request) === undefined) return undefined
      try {
        const { principal } = await authenticate(request)
        return holdsRole(principal, roles) ? principal : undefined
      } catch (err) {
        if (err instanceof UnauthorizedError) return undefined
        throw err
      }
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
        // the one bearer scheme of the document: a second `http bearer` scheme took every user's token in generated
        // clients that fill the first they find. What it accepts here is still the METRICS_TOKEN alone (below).
        security: [{ bearerAuth: [] }],
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
      // a log its tenant made public is read with no credential: OpenAPI's empty requirement says it is optional
      security: auth.publicWhen === undefined ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, {}],
      description: [route.schema?.description, requirementText(auth.roles)].filter(Boolean).join('\n\n'),
      response: {
        ...errorResponses({
          401: 'Missing, invalid, expired or revoked token or API key',
          403: auth.tenantParam === undefined
            ? 'The token or API key lacks the required role'
            : 'The token or API key lacks the required role, or is of another tenant than the one in the path'
        }),
        ...(route.schema?.response as object | undefined)
      }
    }
    // after the route's rate limit (@fastify/rate-limit's onRequest hook), so a flood of bad tokens is counted and refused
    appendOnRequest(route, async function authorize (request: FastifyRequest) {
      // a public tenant log: no principal, and nothing of the caller is looked up
      if (auth.publicWhen !== undefined && await auth.publicWhen(request)) return
      const { principal, credential } = await authenticate(request)
      if (!holdsRole(principal, auth.roles)) throw new ForbiddenError(auth.roles.join(' or '))
      const pathTenant = auth.tenantParam === undefined ? undefined : String((request.params as Record<string, unknown>)[auth.tenantParam])
      if (pathTenant !== undefined && principal.tenant !== pathTenant) throw new OtherTenantError(pathTenant)
      request.principal = principal
      grants.set(request, { credential, roles: auth.roles })
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
  return roles.length === 0
    ? 'Requires a valid bearer token or API key.'
    : `Requires a bearer token or API key with the role: ${roles.join(' or ')}.`
}

export default fp(authorizationPlugin, { fastify: '5.x', name: 'authorization', dependencies: ['jwt', 'user-store', 'api-key-store', 'api-keys'] })
