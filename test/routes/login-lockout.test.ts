import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, createUser, TEST_PASSWORD } from '../helper.js'

/**
 * What failures spread over many addresses do to the real user (issue #28, docs/security.md#logins). The per-user
 * ceiling (LOGIN_USER_MAX_FAILURES per LOGIN_USER_WINDOW_S) bounds distributed guessing; it never holds back the
 * right password from an address the user logged in from before (LOGIN_KNOWN_ADDRESS_S), and it holds back a fresh
 * address for at most LOGIN_USER_WINDOW_S.
 */
async function login (app: FastifyInstance, username: string, password: string, remoteAddress: string) {
  return await app.inject({ method: 'POST', url: '/login', payload: { username, password, tenant: 'tenant-a' }, remoteAddress })
}

/** The probe's attack: 66 wrong passwords from 6 addresses (each address past its own limit of 10). */
async function spreadFailures (app: FastifyInstance, username: string, addresses = 6, each = 11): Promise<number[]> {
  const statuses: number[] = []
  for (let a = 0; a < addresses; a++) {
    for (let i = 0; i < each; i++) statuses.push((await login(app, username, `wrong password ${a}.${i}`, `198.18.7.${a + 1}`)).statusCode)
  }
  return statuses
}

t.test('failures spread over six addresses do not lock the user out of an address it logged in from before', async (t) => {
  const app = await build(t)
  await createUser(app, { username: 'victim', roles: ['reader'] })
  t.equal((await login(app, 'victim', TEST_PASSWORD, '203.0.113.10')).statusCode, 200, 'the user logs in from its office')

  const statuses = await spreadFailures(app, 'victim')
  t.ok(statuses.includes(429), 'the attack met the limits')
  const fresh = await login(app, 'victim', TEST_PASSWORD, '203.0.113.99')
  t.equal(fresh.statusCode, 429, 'a fresh address waits: the password check would be a guess')
  const retryAfter = Number(fresh.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 60, `for at most LOGIN_USER_WINDOW_S (${retryAfter} s)`)

  t.equal((await login(app, 'victim', TEST_PASSWORD, '203.0.113.10')).statusCode, 200, 'the known address logs in at once')
  t.equal((await login(app, 'victim', 'a typo', '203.0.113.10')).statusCode, 401, 'a wrong password there is still a failure')
  t.equal((await login(app, 'victim', TEST_PASSWORD, '203.0.113.10')).statusCode, 200, 'and the next right one passes')
  t.equal((await login(app, 'other-user', TEST_PASSWORD, '203.0.113.10')).statusCode, 401, 'known for that user only')
})

t.test('a known address still has its own per-address limit', async (t) => {
  const app = await build(t, { config: { LOGIN_MAX_FAILURES: 3 } })
  await createUser(app, { username: 'careful', roles: ['reader'] })
  t.equal((await login(app, 'careful', TEST_PASSWORD, '203.0.113.20')).statusCode, 200)
  for (let i = 0; i < 3; i++) t.equal((await login(app, 'careful', `wrong ${i}`, '203.0.113.20')).statusCode, 401)
  t.equal((await login(app, 'careful', TEST_PASSWORD, '203.0.113.20')).statusCode, 429, 'LOGIN_MAX_FAILURES from one address holds, known or not')
})

t.test('a fresh address waits at most LOGIN_USER_WINDOW_S, then the right password passes', async (t) => {
  const app = await build(t, { config: { LOGIN_USER_MAX_FAILURES: 5, LOGIN_USER_WINDOW_S: 2 } })
  await createUser(app, { username: 'busy', roles: ['reader'] })
  await spreadFailures(app, 'busy', 5, 1)
  const limited = await login(app, 'busy', TEST_PASSWORD, '203.0.113.30')
  t.equal(limited.statusCode, 429)
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After within the window (${retryAfter} s)`)
  await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 100))
  t.equal((await login(app, 'busy', TEST_PASSWORD, '203.0.113.30')).statusCode, 200, 'after Retry-After, the user is in')
})

t.test('LOGIN_KNOWN_ADDRESS_S=0 remembers no address: every address waits out the ceiling', async (t) => {
  const app = await build(t, { config: { LOGIN_USER_MAX_FAILURES: 5, LOGIN_KNOWN_ADDRESS_S: 0 } })
  await createUser(app, { username: 'strict', roles: ['reader'] })
  t.equal((await login(app, 'strict', TEST_PASSWORD, '203.0.113.40')).statusCode, 200)
  await spreadFailures(app, 'strict', 5, 1)
  t.equal((await login(app, 'strict', TEST_PASSWORD, '203.0.113.40')).statusCode, 429)
})
