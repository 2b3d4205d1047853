import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { FailureLimiter, KnownAddresses } from './failure-limiter.js'
import { Semaphore } from './semaphore.js'
import type { PasswordHasher } from './passwords.js'
import { LoginFailedError, TooManyLoginsError } from '../../../errors.js'
import { userKey, type StoredUser } from './user-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    loginService: LoginService
  }
}

export interface LoginServiceOptions {
  ttlSeconds: number
  /** Failures per (username, client IP) in windowSeconds. */
  maxFailures: number
  windowSeconds: number
  /** Failures per username from all addresses in userWindowSeconds: a small ceiling with a short window. */
  userMaxFailures: number
  userWindowSeconds: number
  /** How long a (username, client IP) that logged in is exempt from the per-username ceiling; 0: never. */
  knownAddressSeconds: number
  concurrency: number
  /** The tenant of a login that names none (ADMIN_TENANT): the original single-field login. */
  defaultTenant: string
  /** At the configured cost (PASSWORD_HASH_*), shared with the user store. */
  passwords: PasswordHasher
}

export interface IssuedToken {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
}

/** Waiting logins beyond the running ones; more than this and the login is refused with 503. */
const HASH_QUEUE_LIMIT = 64

export interface LoginService {
  login: (username: string, password: string, clientIp: string, tenant?: string) => Promise<IssuedToken>
  issueToken: (user: Pick<StoredUser, 'username' | 'tenant' | 'roles' | 'token_version' | 'uid'>) => IssuedToken
}

async function loginServicePlugin (fastify: FastifyInstance, options: LoginServiceOptions) {
  // OWASP Authentication Cheat Sheet: a lockout keyed on the username alone lets anyone lock out anyone. Failures
  // are counted per (username, client IP), so guessing from one address is bounded without touching the user's
  // own; the per-username ceiling over all addresses is small and short, so it bounds a distributed guess
  // but cannot keep the user out for long. Attempts per address are limited in routes/auth.ts.
  const perAddress = new FailureLimiter(options.maxFailures, options.windowSeconds * 1000)
  const perUser = new FailureLimiter(options.userMaxFailures, options.userWindowSeconds * 1000)
  // The ceiling cannot spare a fresh address: checking its password is the very guess the ceiling bounds, and
  // addresses are cheap (IPv6). It spares an address the user has logged in from: no guesser can make one known.
  // A fresh address waits at most userWindowSeconds (docs/security.md#logins).
  const known = new KnownAddresses(options.knownAddressSeconds * 1000)
  const hashing = new Semaphore(options.concurrency, HASH_QUEUE_LIMIT)
  // computed at boot so the first unknown-user login takes no longer than a known one
  const passwords = options.passwords
  const dummyHash = await passwords.dummyHash()

  function issueToken (user: Pick<StoredUser, 'username' | 'tenant' | 'roles' | 'token_version' | 'uid'>): IssuedToken {
    const token = fastify.jwt.sign({
      sub: user.username,
      tenant: user.tenant,
      roles: user.roles,
      ver: user.token_version ?? 0,
      uid: user.uid,
      jti: randomUUID()
    })
    return { access_token: token, token_type: 'Bearer', expires_in: options.ttlSeconds }
  }

  /**
   * Unknown user, wrong password and disabled user fail alike, after the same argon2 work, so neither
   * the answer nor its timing tells which usernames exist.
   */
  function refuseIfLimited (userKeyValue: string, pairKey: string): void {
    const wait = Math.max(perAddress.retryAfter(pairKey), known.has(pairKey) ? 0 : perUser.retryAfter(userKeyValue))
    if (wait > 0) throw Object.assign(new TooManyLoginsError(), { retryAfter: wait })
  }

  async function login (username: string, password: string, clientIp: string, tenant = options.defaultTenant): Promise<IssuedToken> {
    const key = userKey(tenant, username)
    const pairKey = `${key}\u0000${clientIp}`
    refuseIfLimited(key, pairKey)

    const user = await fastify.userStore.find(tenant, username)
    const accepted = await hashing.run(async () => {
      // checked and counted while holding a slot, so guesses sent all at once cannot queue past the limit
      refuseIfLimited(key, pairKey)
      const valid = await passwords.verify(user?.password_hash ?? dummyHash, password)
      if (user === null || !valid || user.disabled) {
        perAddress.recordFailure(pairKey)
        perUser.recordFailure(key)
        return false
      }
      return true
    })
    if (!accepted || user === null) throw new LoginFailedError()
    // the per-username count is left to its short window: a success from one address says nothing of the others
    perAddress.clear(pairKey)
    known.add(pairKey)
    if (passwords.needsRehash(user.password_hash)) {
      // parameters were raised since this hash was made: upgrade it now that we know the password
      await fastify.userStore.replaceHash(user.tenant, user.username, await hashing.run(() => passwords.hash(password)))
    }
    return issueToken(user)
  }

  fastify.decorate('loginService', { login, issueToken })
}

export default fp(loginServicePlugin, { fastify: '5.x', name: 'login-service', dependencies: ['jwt', 'user-store'] })
