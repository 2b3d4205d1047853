import t from 'tap'
import argon2 from 'argon2'
import { bearer, build, createUser, TEST_PASSWORD, testConfig, userWithToken } from '../helper.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import type { FastifyInstance } from 'fastify'
import { FailureLimiter } from '../../src/plugins/app/access/failure-limiter.js'

/** POST /login and GET /me. Each login pays for one argon2id verification (~0.3 s): kept few. */

const JWT_TTL = 600

/** Test users are in tenant-a (test/helper.ts) unless a test says otherwise. */
async function login (app: FastifyInstance, username: string, password: string, remoteAddress = '127.0.0.1', tenant = 'tenant-a') {
  return await app.inject({ method: 'POST', url: '/login', payload: { username, password, tenant }, remoteAddress })
}

/** The cost parameters of a PHC-format argon2 hash, whatever their order. */
function argon2Params (hash: string): { variant: string, m: number, t: number, p: number } {
  const [, variant = '', , params = ''] = hash.split('$')
  const values = Object.fromEntries(params.split(',').map((pair) => pair.split('=')))
  return { variant, m: Number(values.m), t: Number(values.t), p: Number(values.p) }
}

function decodeClaims (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
}

t.test('a good login returns a bearer token with every claim, living JWT_TTL seconds', async (t) => {
  const app = await build(t, { config: { JWT_TTL } })
  await createUser(app, { username: 'Alice', roles: ['reader', 'writer'], tenant: 'acme' })

  // the username is case-insensitive
  const res = await login(app, 'alice', TEST_PASSWORD, '127.0.0.1', 'acme')
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'token_type'])
  t.equal(body.token_type, 'Bearer')
  t.equal(body.expires_in, JWT_TTL)

  const header = JSON.parse(Buffer.from(body.access_token.split('.')[0], 'base64url').toString('utf8'))
  t.equal(header.alg, 'HS256')
  const claims = decodeClaims(body.access_token)
  t.same(Object.keys(claims).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'roles', 'sub', 'tenant', 'uid', 'ver'])
  t.equal(claims.sub, 'Alice')
  t.equal(claims.tenant, 'acme')
  t.same(claims.roles, ['reader', 'writer'])
  t.equal(claims.iss, 'audit-log-service')
  t.equal(claims.aud, 'audit-log-api')
  t.match(claims.jti, /^[0-9a-f-]{36}$/)
  t.equal(Number(claims.exp) - Number(claims.iat), JWT_TTL, 'exp - iat == JWT_TTL')

  const me = await app.inject({ method: 'GET', url: '/me', headers: bearer(body.access_token) })
  t.equal(me.statusCode, 200)
  t.same(me.json(), {
    username: 'Alice',
    tenant: 'acme',
    roles: ['reader', 'writer'],
    token_expires_at: new Date(Number(claims.exp) * 1000).toISOString()
  })

  const second = await login(app, 'ALICE', TEST_PASSWORD, '127.0.0.1', 'acme')
  t.not(decodeClaims(second.json().access_token).jti, claims.jti, 'each token has its own jti')
})

t.test('unknown user, wrong password and disabled user get the identical 401', async (t) => {
  const app = await build(t)
  await createUser(app, { username: 'bob', roles: ['reader'] })
  await createUser(app, { username: 'carol', roles: ['reader'], disabled: true })

  const unknown = await login(app, 'nobody', TEST_PASSWORD)
  const wrongPassword = await login(app, 'bob', 'not the password at all')
  const disabled = await login(app, 'carol', TEST_PASSWORD)
  for (const res of [unknown, wrongPassword, disabled]) {
    t.equal(res.statusCode, 401)
    t.same(res.json(), { statusCode: 401, code: 'AUTH_LOGIN_FAILED', error: 'Unauthorized', message: 'Invalid username or password' })
  }
  t.equal(unknown.body, wrongPassword.body, 'unknown user and wrong password: same bytes')
  t.equal(unknown.body, disabled.body, 'unknown user and disabled user: same bytes')
  t.equal(unknown.headers['www-authenticate'], wrongPassword.headers['www-authenticate'])
  t.equal(unknown.headers['www-authenticate'], disabled.headers['www-authenticate'])
  t.equal(unknown.headers['content-length'], disabled.headers['content-length'])

  const bad = await app.inject({ method: 'POST', url: '/login', payload: { username: 'bob' } })
  t.equal(bad.statusCode, 400, 'a body without password is 400')
  const extra = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username: 'bob', password: TEST_PASSWORD, tenant: 'tenant-a', role: 'admin' }
  })
  t.equal(extra.statusCode, 400, 'an unknown field is 400')
})

t.test('10 failures lock that username with 429 + Retry-After; other usernames still log in', async (t) => {
  const app = await build(t)
  await createUser(app, { username: 'target', roles: ['reader'] })
  await createUser(app, { username: 'bystander', roles: ['reader'] })

  for (let i = 0; i < 10; i++) {
    t.equal((await login(app, 'target', `wrong password ${i}`)).statusCode, 401, `failure ${i + 1} is a 401`)
  }
  const locked = await login(app, 'TARGET', TEST_PASSWORD)
  t.equal(locked.statusCode, 429, 'the right password is refused too while locked, whatever the case')
  t.equal(locked.json().code, 'AUTH_TOO_MANY_ATTEMPTS')
  const retryAfter = Number(locked.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 900, `Retry-After is within the window (${retryAfter})`)

  t.equal((await login(app, 'bystander', TEST_PASSWORD)).statusCode, 200, 'another username is not locked out')
})

t.test('guesses sent all at once do not multiply the per-username limit', async (t) => {
  const app = await build(t, { config: { LOGIN_MAX_FAILURES: 3, LOGIN_CONCURRENCY: 2 } })
  await createUser(app, { username: 'swarmed', roles: ['reader'] })
  const results = await Promise.all(Array.from({ length: 12 }, async (_, i) => await login(app, 'swarmed', `wrong password ${i}`)))
  const failures = results.filter((res) => res.statusCode === 401).length
  const limited = results.filter((res) => res.statusCode === 429).length
  t.equal(failures + limited, 12, 'each is a 401 or a 429')
  // the limit, plus at most the guesses already being checked when it was reached
  t.ok(failures <= 3 + 2 - 1, `at most 4 guesses were checked (${failures})`)
})

t.test('per client IP: LOGIN_MAX_PER_IP attempts, then 429 with Retry-After; other addresses unaffected', async (t) => {
  const app = await build(t, { config: { LOGIN_MAX_PER_IP: 3 } })
  // every attempt counts, even a malformed one (which costs no argon2 work here), and whatever the username
  for (const username of ['u1', 'u2', 'u3']) {
    t.equal((await login(app, username, '', '10.0.0.1')).statusCode, 400)
  }
  const limited = await login(app, 'u4', 'whatever-password', '10.0.0.1')
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After is set')
  t.equal(limited.json().statusCode, 429)
  t.equal(limited.json().code, 'AUTH_TOO_MANY_ATTEMPTS', 'both login limits answer with one documented code')
  t.equal((await login(app, 'u4', 'whatever-password', '10.0.0.2')).statusCode, 401, 'another address still gets to try')
})

t.test('stored hashes are argon2id with m=65536,t=3,p=4; weaker ones are rehashed on login', async (t) => {
  // the production default, not the tests' cheap cost: this test is about hashing
  const app = await build(t, { config: { PASSWORD_HASH_MEMORY_KIB: 65536, PASSWORD_HASH_TIME_COST: 3 } })
  const created = await app.userStore.create({ username: 'fresh', password: TEST_PASSWORD, roles: ['reader'], tenant: 'tenant-a' })
  t.match(created.password_hash, /^\$argon2id\$/)
  t.same(argon2Params(created.password_hash), { variant: 'argon2id', m: 65536, t: 3, p: 4 })

  const weak = await argon2.hash(TEST_PASSWORD, { type: argon2.argon2id, memoryCost: 8192, timeCost: 2, parallelism: 1 })
  await createUser(app, { username: 'legacy', roles: ['reader'] })
  await app.userStore.collection.updateOne({ username: 'legacy' }, { $set: { password_hash: weak } })

  t.equal((await login(app, 'legacy', 'not the password at all')).statusCode, 401)
  t.equal((await app.userStore.find('tenant-a', 'legacy'))?.password_hash, weak, 'a failed login changes nothing')

  t.equal((await login(app, 'legacy', TEST_PASSWORD)).statusCode, 200)
  const rehashed = (await app.userStore.find('tenant-a', 'legacy'))?.password_hash ?? ''
  t.same(argon2Params(rehashed), { variant: 'argon2id', m: 65536, t: 3, p: 4 }, 'upgraded to the current parameters')
  t.ok(await argon2.verify(rehashed, TEST_PASSWORD), 'and still the same password')
  t.equal((await login(app, 'legacy', TEST_PASSWORD)).statusCode, 200, 'and the user still logs in')
})

t.test('GET /me needs a token; any role will do', async (t) => {
  const app = await build(t)
  const token = await userWithToken(app, { username: 'dave', roles: ['writer'], tenant: 'tenant-z' })
  const me = await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })
  t.equal(me.statusCode, 200)
  const expiry = Date.parse(me.json().token_expires_at)
  t.same(
    { ...me.json(), token_expires_at: undefined },
    { username: 'dave', tenant: 'tenant-z', roles: ['writer'], token_expires_at: undefined }
  )
  t.equal(expiry, Number(decodeClaims(token).exp) * 1000)
  t.equal((await app.inject({ method: 'GET', url: '/me' })).statusCode, 401)
})

t.test('JWT_SECRET shorter than 32 bytes refuses to start', async (t) => {
  const base = testConfig()
  t.throws(() => loadConfig({ MONGODB_URL: base.MONGODB_URL, JWT_SECRET: 'too-short-secret' }), ConfigError)
  t.throws(() => loadConfig({ MONGODB_URL: base.MONGODB_URL, JWT_SECRET: 'x'.repeat(31) }), { name: 'ConfigError', message: /JWT_SECRET/ })
  t.throws(() => loadConfig({ MONGODB_URL: base.MONGODB_URL }), { message: /JWT_SECRET/ }, 'and a database URL without any secret too')
  t.doesNotThrow(() => loadConfig({ MONGODB_URL: base.MONGODB_URL, JWT_SECRET: 'x'.repeat(32) }), '32 bytes is enough')
})

t.test('failures from one address do not lock the user out elsewhere: the count is per (username, client IP)', async (t) => {
  const app = await build(t)
  await createUser(app, { username: 'admin', roles: ['admin'] })
  for (let i = 0; i < 10; i++) {
    t.equal((await login(app, 'admin', `wrong password ${i}`, '203.0.113.66')).statusCode, 401, `the attacker's failure ${i + 1}`)
  }
  t.equal((await login(app, 'ADMIN', TEST_PASSWORD, '203.0.113.66')).statusCode, 429, 'the attacker\'s address is locked for this username')
  t.equal((await login(app, 'admin', TEST_PASSWORD, '198.51.100.7')).statusCode, 200, 'the real user, from another address, still logs in')
})

t.test('a small global per-username ceiling with a short window bounds guessing spread over many addresses', async (t) => {
  const app = await build(t, { config: { LOGIN_USER_MAX_FAILURES: 5, LOGIN_USER_WINDOW_S: 60 } })
  await createUser(app, { username: 'spread', roles: ['reader'] })
  const failures = await Promise.all(
    Array.from({ length: 5 }, async (_, i) => await login(app, 'spread', 'wrong password', `10.9.0.${i + 1}`))
  )
  t.same(failures.map((res) => res.statusCode), [401, 401, 401, 401, 401], 'one failure from each of five addresses')
  const limited = await login(app, 'spread', TEST_PASSWORD, '10.9.1.1')
  t.equal(limited.statusCode, 429, 'past the ceiling, every address waits')
  t.equal(limited.json().code, 'AUTH_TOO_MANY_ATTEMPTS')
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 60, `for the short window only (${retryAfter} s), not LOGIN_WINDOW_S`)
  t.equal(
    (await login(app, 'spread', TEST_PASSWORD, '10.9.1.1', 'tenant-b')).statusCode,
    401,
    'the same name in another tenant is another count'
  )

  // and once the window has passed the user logs in again (the limiter's clock, not a sleep)
  const limiter = new FailureLimiter(5, 60_000)
  for (let i = 0; i < 5; i++) limiter.recordFailure('spread', 0)
  t.ok(limiter.retryAfter('spread', 59_000) > 0, 'still limited within the window')
  t.equal(limiter.retryAfter('spread', 60_000), 0, 'free when it ends')
})
