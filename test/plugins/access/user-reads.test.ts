import t from 'tap'
import { createHmac, randomUUID } from 'node:crypto'
import { bearer, build, createUser, testConfig, TEST_SECRET, testUid, userWithToken } from '../../helper.js'

/** The user behind a token is read at most once per AUTH_CACHE_MS, however many requests miss its entry at once. */
function signed (payload: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.` +
    Buffer.from(JSON.stringify(payload)).toString('base64url')
  return `${input}.${createHmac('sha256', TEST_SECRET).update(input).digest('base64url')}`
}

t.test('requests that find the user\'s cached state expired share one read of it', async (t) => {
  const app = await build(t, { config: { AUTH_CACHE_MS: 5000 } })
  await createUser(app, { username: 'busy', roles: ['reader'] })
  const now = Math.floor(Date.now() / 1000)
  const config = testConfig()
  const token = signed({
    sub: 'busy',
    tenant: 'tenant-a',
    roles: ['reader'],
    ver: 0,
    uid: testUid('busy'),
    iss: config.JWT_ISSUER,
    aud: config.JWT_AUDIENCE,
    iat: now,
    exp: now + 300,
    jti: randomUUID()
  })
  // the real read, counted
  const find = app.userStore.find.bind(app.userStore)
  let reads = 0
  app.userStore.find = async (...args: Parameters<typeof find>) => { reads++; return await find(...args) }
  const answers = await Promise.all(Array.from({ length: 20 }, async () => (await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode))
  t.same(new Set(answers), new Set([200]))
  t.equal(reads, 1, 'twenty requests at once, one read of the user')
})

t.test('and requests with an API key whose cached record expired share one read of it', async (t) => {
  const app = await build(t, { config: { AUTH_CACHE_MS: 5000 } })
  const admin = await userWithToken(app, { username: 'key-admin', roles: ['admin'] })
  const created = await app.inject({ method: 'POST', url: '/tenant/api-keys', headers: bearer(admin), payload: { name: 'feeder', roles: ['reader'] } })
  t.equal(created.statusCode, 201)
  const { key } = created.json() as { key: string }
  const find = app.apiKeyStore.find.bind(app.apiKeyStore)
  let reads = 0
  app.apiKeyStore.find = async (...args: Parameters<typeof find>) => { reads++; return await find(...args) }
  const answers = await Promise.all(Array.from({ length: 20 }, async () => (await app.inject({ method: 'GET', url: '/me', headers: bearer(key) })).statusCode))
  t.same(new Set(answers), new Set([200]))
  t.equal(reads, 1, 'twenty requests at once, one read of the key')
})
