import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Role } from '../../schemas/roles.js'

/** The claims this service signs; verification requires all of the registered ones (RFC 8725). */
export interface AccessTokenClaims {
  sub: string
  tenant: string
  roles: Role[]
  /** The user's token_version when issued (see user-store.ts): revocation without a deny list. */
  ver: number
  /** The user's incarnation (see user-store.ts): a re-created user of the same name does not accept it. */
  uid: string
  jti: string
  iat: number
  exp: number
  iss: string
  aud: string
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Pick<AccessTokenClaims, 'sub' | 'tenant' | 'roles' | 'ver' | 'uid' | 'jti'>
    user: AccessTokenClaims
  }
}

export interface JwtPluginOptions {
  secret: string
  issuer: string
  audience: string
  ttlSeconds: number
}

/** Tokens remembered as verified: a token per active client is plenty, and an entry is a few hundred bytes. */
export const VERIFIED_TOKEN_CACHE_ENTRIES = 10000

/**
 * Accepts `Authorization: Bearer <token>` and the original system's `Bearer: <token>`; anything else
 * is no token at all.
 */
export function extractBearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^Bearer:?[ ]+([A-Za-z0-9_\-.=+/]+)\s*$/i.exec(header)
  return match?.[1]
}

/**
 * HS256 only, with issuer and audience pinned and every registered claim required: `allowedIss` and
 * `allowedAud` alone would accept tokens that simply omit those claims.
 * @see https://github.com/fastify/fastify-jwt
 */
async function jwtPlugin (fastify: FastifyInstance, options: JwtPluginOptions) {
  await fastify.register(fastifyJwt, {
    secret: options.secret,
    sign: {
      algorithm: 'HS256',
      iss: options.issuer,
      aud: options.audience,
      // a string: @fastify/jwt reads a bare number as seconds, fast-jwt as milliseconds
      expiresIn: `${options.ttlSeconds}s`
    },
    verify: {
      algorithms: ['HS256'],
      allowedIss: options.issuer,
      allowedAud: options.audience,
      // jti too; iat in the future and the lifetime are checked in plugins/app/authorization.ts (fast-jwt does not)
      requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub', 'jti'],
      // verified tokens are remembered (by a hash of the token) until their own `exp`, at most the TTL: a client
      // sends the same token with every request, and verifying it again was 14% of ingest's CPU. Only the signature
      // and claims are cached: revocation, disabled users and the lifetime policy are checked on every request
      // (plugins/app/authorization.ts); failures are never cached. Works only because jwtVerify is always called
      // without per-call options (they make @fastify/jwt build a new verifier, and cache, per request).
      cache: VERIFIED_TOKEN_CACHE_ENTRIES,
      cacheTTL: options.ttlSeconds * 1000,
      extractToken: (request: FastifyRequest) => extractBearerToken(request) ?? ''
    }
  })
}

export default fp(jwtPlugin, { fastify: '5.x', name: 'jwt' })
