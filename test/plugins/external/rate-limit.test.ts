import t from 'tap'
import { build, createUser, TEST_PASSWORD } from '../../helper.js'

/** Every 429 has one of the documented codes and Retry-After; login's two limits answer alike. */
async function login (app: Awaited<ReturnType<typeof build>>, username: string, password: string, remoteAddress: string) {
  return await app.inject({ method: 'POST', url: '/login', payload: { username, password, tenant: 'tenant-a' }, remoteAddress })
}

t.test('both login 429s (per address and per username) have the code AUTH_TOO_MANY_ATTEMPTS and Retry-After', async (t) => {
  const app = await build(t, { config: { LOGIN_MAX_PER_IP: 2, LOGIN_MAX_FAILURES: 1 } })
  await createUser(app, { username: 'limited', roles: ['reader'] })

  t.equal((await login(app, 'nobody-1', 'x', '10.1.0.1')).statusCode, 401)
  t.equal((await login(app, 'nobody-2', 'x', '10.1.0.1')).statusCode, 401)
  const perAddress = await login(app, 'limited', TEST_PASSWORD, '10.1.0.1')
  t.equal(perAddress.statusCode, 429, 'per address')
  t.same(perAddress.json(), {
    statusCode: 429,
    code: 'AUTH_TOO_MANY_ATTEMPTS',
    error: 'Too Many Requests',
    message: 'Too many login attempts; retry later'
  })
  t.ok(Number(perAddress.headers['retry-after']) > 0, 'per address: Retry-After')

  t.equal((await login(app, 'limited', 'wrong password', '10.1.0.2')).statusCode, 401)
  const perUsername = await login(app, 'limited', 'wrong password', '10.1.0.2')
  t.equal(perUsername.statusCode, 429, 'per username')
  t.same(perUsername.json(), perAddress.json(), 'the same body as the per-address limit')
  t.ok(Number(perUsername.headers['retry-after']) > 0, 'per username: Retry-After')
})

t.test('RATE_LIMIT_MAX: 429 RATE_LIMITED with Retry-After on any route', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 2 } })
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ method: 'GET', url: '/events', remoteAddress: '10.2.0.1' })).statusCode, 401)
  const limited = await app.inject({ method: 'GET', url: '/events', remoteAddress: '10.2.0.1' })
  t.equal(limited.statusCode, 429)
  t.same(limited.json(), {
    statusCode: 429,
    code: 'RATE_LIMITED',
    error: 'Too Many Requests',
    message: 'Too many requests from this address; retry later'
  })
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  t.equal((await app.inject({ method: 'GET', url: '/events', remoteAddress: '10.2.0.2' })).statusCode, 401, 'another address is unaffected')
})
