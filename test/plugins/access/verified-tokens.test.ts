import t from 'tap'
import { createHmac, randomUUID } from 'node:crypto'
import { VerifiedTokens } from '../../../src/plugins/app/access/verified-tokens.js'
import type { AccessTokenClaims } from '../../../src/plugins/external/jwt.js'
import { bearer, build, createUser, testConfig, TEST_SECRET, testUid } from '../../helper.js'

/**
 * A token is checked once while it lives (signature, claims, policies); what can change, the user, is checked on
 * every request. A kept token must never outlive its `exp`, and revocation must apply to it as to any other.
 */
const claims = (exp: number): AccessTokenClaims => ({
  sub: 'u', tenant: 't', roles: ['reader'], ver: 0, uid: 'uid', jti: 'j', iat: exp - 60, exp, iss: 'i', aud: 'a'
})

t.test('kept until exp (inclusive, as fast-jwt), at most maxAgeMs, never past either', async (t) => {
  const tokens = new VerifiedTokens(10, 60_000)
  tokens.remember('a', claims(1000), 990_000)
  t.same(tokens.get('a', 1_000_000)?.exp, 1000, 'at exp')
  t.equal(tokens.get('a', 1_000_001), undefined, 'a millisecond past exp')
  t.equal(tokens.size, 0, 'and forgotten')
  tokens.remember('b', claims(10_000), 1_000_000)
  t.ok(tokens.get('b', 1_060_000), 'within maxAgeMs')
  t.equal(tokens.get('b', 1_060_001), undefined, 'past maxAgeMs although exp is later: checked again')
  t.equal(tokens.get('unknown', 0), undefined)
})

t.test('bounded: the oldest token is forgotten first', async (t) => {
  const tokens = new VerifiedTokens(2, 60_000)
  tokens.remember('a', claims(10_000), 0)
  tokens.remember('b', claims(10_000), 0)
  tokens.remember('c', claims(10_000), 0)
  t.equal(tokens.size, 2)
  t.equal(tokens.get('a', 0), undefined)
  t.ok(tokens.get('b', 0) !== undefined && tokens.get('c', 0) !== undefined)
})

function signed (payload: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.` +
    Buffer.from(JSON.stringify(payload)).toString('base64url')
  return `${input}.${createHmac('sha256', TEST_SECRET).update(input).digest('base64url')}`
}

t.test('through the app: a token accepted before is refused once it expires, or once its user is disabled', async (t) => {
  const config = testConfig()
  const app = await build(t, { config: { AUTH_CACHE_MS: 0 } })
  await createUser(app, { username: 'kept', roles: ['reader'] })
  await createUser(app, { username: 'disabled-later', roles: ['reader'] })
  const token = (username: string, lifetimeSeconds: number) => {
    const now = Math.floor(Date.now() / 1000)
    return signed({
      sub: username,
      tenant: 'tenant-a',
      roles: ['reader'],
      ver: 0,
      uid: testUid(username),
      iss: config.JWT_ISSUER,
      aud: config.JWT_AUDIENCE,
      iat: now,
      exp: now + lifetimeSeconds,
      jti: randomUUID()
    })
  }
  const me = async (headers: Record<string, string>) => (await app.inject({ method: 'GET', url: '/me', headers })).statusCode

  const shortLived = token('kept', 2)
  t.equal(await me(bearer(shortLived)), 200, 'accepted, and kept as verified')
  t.equal(await me(bearer(shortLived)), 200, 'accepted again')
  // past its exp (whole seconds, so up to 3 s from now), whatever the machine's load: a later moment is still past it
  await new Promise((resolve) => setTimeout(resolve, 3100))
  t.equal(await me(bearer(shortLived)), 401, 'refused once expired, although it was kept')

  const longLived = token('disabled-later', 300)
  t.equal(await me(bearer(longLived)), 200)
  await app.userStore.collection.updateOne({ username: 'disabled-later' }, { $set: { disabled: true } })
  t.equal(await me(bearer(longLived)), 401, 'refused once its user is disabled (AUTH_CACHE_MS 0), although it was kept')
})
