import t from 'tap'
import { createSigner } from 'fast-jwt'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { bearer, build, createUser, TEST_SECRET, testConfig, testUid, userWithToken } from '../../helper.js'

/**
 * The verified-token cache (plugins/external/jwt.ts) must never change an answer: a token it remembers is
 * still refused once it expires, and once its user is disabled or its roles change.
 */

const config = testConfig()

function signedFor (username: string, exp: number): string {
  const now = Math.floor(Date.now() / 1000)
  return createSigner({ key: TEST_SECRET, algorithm: 'HS256' })({
    sub: username,
    tenant: 'tenant-a',
    roles: ['reader'],
    ver: 0,
    uid: testUid(username),
    iss: config.JWT_ISSUER,
    aud: config.JWT_AUDIENCE,
    iat: now,
    exp,
    jti: randomUUID()
  })
}

t.test('a token verified (and cached) a moment ago is refused once it has expired', async (t) => {
  const app = await build(t)
  await createUser(app, { username: 'short-lived', roles: ['reader'] })
  const exp = Math.floor(Date.now() / 1000) + 2
  const token = signedFor('short-lived', exp)
  const before = await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })
  t.equal(before.statusCode, 200, 'accepted while valid: now in the cache')
  const again = await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })
  t.equal(again.statusCode, 200, 'accepted again (a cache hit)')
  // wait for the clock to pass exp (a wait for a condition, not a timed assertion)
  while (Date.now() <= exp * 1000 + 50) await sleep(100)
  const after = await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })
  t.equal(after.statusCode, 401, 'expired: refused although it was cached')
  t.equal(after.json().code, 'AUTH_UNAUTHORIZED')
})

t.test('a cached token stops working when its user is disabled or re-roled', async (t) => {
  // AUTH_CACHE_MS=0: the user's state is read on every request, so only the token cache could keep it alive
  const app = await build(t, { config: { AUTH_CACHE_MS: 0 } })
  const disabled = await userWithToken(app, { username: 'to-disable', roles: ['reader'] })
  const reroled = await userWithToken(app, { username: 'to-rerole', roles: ['reader'] })
  for (const token of [disabled, reroled]) {
    t.equal((await app.inject({ method: 'GET', url: '/events', headers: bearer(token) })).statusCode, 200, 'accepted, and cached')
  }
  await app.userStore.collection.updateOne({ username: 'to-disable' }, { $set: { disabled: true } })
  await app.userStore.collection.updateOne({ username: 'to-rerole' }, { $set: { roles: ['writer'] } })
  for (const token of [disabled, reroled]) {
    const res = await app.inject({ method: 'GET', url: '/events', headers: bearer(token) })
    t.equal(res.statusCode, 401, 'refused at once, cached or not')
  }
})

t.test('a token with a bad signature is refused every time, even after a good one with the same claims', async (t) => {
  const app = await build(t)
  await createUser(app, { username: 'forger-target', roles: ['reader'] })
  const good = signedFor('forger-target', Math.floor(Date.now() / 1000) + 300)
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(good) })).statusCode, 200)
  const [header, payload] = good.split('.')
  const forged = `${header ?? ''}.${payload ?? ''}.${Buffer.from('not the signature').toString('base64url')}`
  for (let i = 0; i < 2; i++) {
    t.equal(
      (await app.inject({ method: 'GET', url: '/me', headers: bearer(forged) })).statusCode,
      401,
      `forged token refused (try ${i + 1})`
    )
  }
})
