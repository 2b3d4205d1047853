import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { bearer, build, createUser, TEST_PASSWORD, userWithToken } from '../helper.js'

/** User management by admins, confined to their tenant, and revocation of tokens when a user changes. */

const AUTH_CACHE_MS = 200
/** Past the authorization cache: how long a revocation may take to apply. Not a timing assertion. */
const pastCache = async () => await sleep(AUTH_CACHE_MS + 150)

async function adminOf (app: FastifyInstance, tenant: string, username = `admin-${tenant}`) {
  return bearer(await userWithToken(app, { username, roles: ['admin'], tenant }))
}

t.test('POST /users: 201, then 409 for the same name in any case, 400 for a short password or an unknown field', async (t) => {
  const app = await build(t)
  const admin = await adminOf(app, 'acme')

  const created = await app.inject({ method: 'POST', url: '/users', headers: admin, payload: { username: 'Alice', password: 'a-long-enough-password', roles: ['reader', 'writer'] } })
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.same({ ...body, created_at: undefined }, { username: 'Alice', tenant: 'acme', roles: ['reader', 'writer'], disabled: false, created_at: undefined }, 'in the admin\'s tenant')
  t.ok(Math.abs(Date.parse(body.created_at) - Date.now()) < 60000, 'created_at is now')
  t.notOk('password' in body || 'password_hash' in body, 'no password or hash is ever returned')
  t.match((await app.userStore.find('alice'))?.password_hash, /^\$argon2id\$/, 'the stored hash is argon2id')

  const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'a-long-enough-password' } })
  t.equal(login.statusCode, 200, 'the new user logs in')

  for (const username of ['Alice', 'alice', 'ALICE']) {
    const duplicate = await app.inject({ method: 'POST', url: '/users', headers: admin, payload: { username, password: 'another-long-password', roles: ['reader'] } })
    t.equal(duplicate.statusCode, 409, `${username} is taken`)
    t.same(duplicate.json(), { statusCode: 409, code: 'CONFLICT', error: 'Conflict', message: 'A user with this username already exists' })
  }
  const otherAdmin = await adminOf(app, 'globex')
  const elsewhere = await app.inject({ method: 'POST', url: '/users', headers: otherAdmin, payload: { username: 'alice', password: 'another-long-password', roles: ['reader'] } })
  t.equal(elsewhere.statusCode, 409, 'usernames are unique across tenants (tokens name the user, not the tenant)')

  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an 11-character password', { username: 'bob', password: 'elevenchars', roles: ['reader'] }, /password/],
    ['an unknown field', { username: 'bob', password: 'a-long-enough-password', roles: ['reader'], nickname: 'bobby' }, /nickname|additional/],
    ['a tenant in the body', { username: 'bob', password: 'a-long-enough-password', roles: ['reader'], tenant: 'globex' }, /tenant|additional/],
    ['an unknown role', { username: 'bob', password: 'a-long-enough-password', roles: ['superuser'] }, /roles/],
    ['no roles', { username: 'bob', password: 'a-long-enough-password', roles: [] }, /roles/],
    ['a username with a space', { username: 'bob smith', password: 'a-long-enough-password', roles: ['reader'] }, /username/]
  ]
  for (const [name, payload, message] of refused) {
    const res = await app.inject({ method: 'POST', url: '/users', headers: admin, payload })
    t.equal(res.statusCode, 400, `${name} is 400`)
    t.equal(res.json().code, 'VALIDATION_FAILED', `${name}: validation error`)
    t.match(res.json().message, message, `${name}: the message names the field`)
  }
  t.equal(await app.userStore.find('bob'), null, 'nothing was stored for the refused ones')
})

t.test('GET, PATCH and DELETE /users/{username} within the tenant; another tenant\'s users are 404', async (t) => {
  const app = await build(t)
  const admin = await adminOf(app, 'initech')
  await createUser(app, { username: 'carol', roles: ['reader'], tenant: 'initech' })
  await createUser(app, { username: 'dan', roles: ['writer'], tenant: 'initech' })
  await createUser(app, { username: 'mallory', roles: ['reader'], tenant: 'globex' })

  const list = await app.inject({ method: 'GET', url: '/users', headers: admin })
  t.equal(list.statusCode, 200)
  t.same(list.json().items.map((user: { username: string }) => user.username), ['admin-initech', 'carol', 'dan'], 'only the tenant\'s users')

  const carol = await app.inject({ method: 'GET', url: '/users/CAROL', headers: admin })
  t.equal(carol.statusCode, 200, 'found in any case')
  t.same({ ...carol.json(), created_at: undefined }, { username: 'carol', tenant: 'initech', roles: ['reader'], disabled: false, created_at: undefined })

  const missing = await app.inject({ method: 'GET', url: '/users/nobody', headers: admin })
  t.equal(missing.statusCode, 404)
  const foreign = await app.inject({ method: 'GET', url: '/users/mallory', headers: admin })
  t.equal(foreign.statusCode, 404, 'another tenant\'s user is not there')
  t.same(foreign.json(), missing.json(), 'exactly like a missing one')

  const patched = await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: { roles: ['reader', 'writer'], disabled: true } })
  t.equal(patched.statusCode, 200)
  t.same(patched.json().roles, ['reader', 'writer'])
  t.equal(patched.json().disabled, true)
  const reenabled = await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: { disabled: false } })
  t.equal(reenabled.json().disabled, false)
  t.same(reenabled.json().roles, ['reader', 'writer'], 'fields not sent are kept')

  t.equal((await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: {} })).statusCode, 400, 'an empty change is 400')
  t.equal((await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: { password: 'short' } })).statusCode, 400, 'a short password is 400')
  t.equal((await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: { tenant: 'globex' } })).statusCode, 400, 'the tenant cannot be changed')

  const foreignPatch = await app.inject({ method: 'PATCH', url: '/users/mallory', headers: admin, payload: { roles: ['admin'], disabled: true } })
  t.equal(foreignPatch.statusCode, 404, 'another tenant\'s user cannot be changed')
  const mallory = await app.userStore.find('mallory')
  t.same([mallory?.roles, mallory?.disabled], [['reader'], false], 'and was not')

  const foreignDelete = await app.inject({ method: 'DELETE', url: '/users/mallory', headers: admin })
  t.equal(foreignDelete.statusCode, 404, 'another tenant\'s user cannot be deleted')
  t.not(await app.userStore.find('mallory'), null, 'and was not')

  const deleted = await app.inject({ method: 'DELETE', url: '/users/Dan', headers: admin })
  t.equal(deleted.statusCode, 204)
  t.equal(deleted.body, '')
  t.equal((await app.inject({ method: 'GET', url: '/users/dan', headers: admin })).statusCode, 404, 'gone')
  t.equal((await app.inject({ method: 'DELETE', url: '/users/dan', headers: admin })).statusCode, 404, 'deleting twice is 404')
})

t.test('disabling, deleting or re-roling a user makes its existing token fail within AUTH_CACHE_MS', async (t) => {
  const app = await build(t, { config: { AUTH_CACHE_MS } })
  const admin = await adminOf(app, 'umbrella')
  const tokens = {
    disabled: bearer(await userWithToken(app, { username: 'to-disable', roles: ['reader'], tenant: 'umbrella' })),
    deleted: bearer(await userWithToken(app, { username: 'to-delete', roles: ['reader'], tenant: 'umbrella' })),
    reroled: bearer(await userWithToken(app, { username: 'to-rerole', roles: ['reader'], tenant: 'umbrella' }))
  }
  // each token works, and its user's state is now cached
  for (const [name, headers] of Object.entries(tokens)) {
    t.equal((await app.inject({ method: 'GET', url: '/events', headers })).statusCode, 200, `${name}: works before`)
  }

  t.equal((await app.inject({ method: 'PATCH', url: '/users/to-disable', headers: admin, payload: { disabled: true } })).statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: '/users/to-delete', headers: admin })).statusCode, 204)
  t.equal((await app.inject({ method: 'PATCH', url: '/users/to-rerole', headers: admin, payload: { roles: ['reader', 'writer'] } })).statusCode, 200)
  await pastCache()

  for (const [name, headers] of Object.entries(tokens)) {
    const res = await app.inject({ method: 'GET', url: '/events', headers })
    t.equal(res.statusCode, 401, `${name}: refused after`)
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
  // a re-roled user's token is refused even for a route its new roles allow; a fresh token carries the new roles
  const fresh = bearer(app.loginService.issueToken({ username: 'to-rerole', tenant: 'umbrella', roles: ['reader', 'writer'], token_version: (await app.userStore.find('to-rerole'))?.token_version ?? 0 }).access_token)
  t.equal((await app.inject({ method: 'GET', url: '/events', headers: fresh })).statusCode, 200, 'a token with the new roles works')
})

t.test('changing the password invalidates the tokens issued before it', async (t) => {
  const app = await build(t, { config: { AUTH_CACHE_MS } })
  const admin = await adminOf(app, 'hooli')
  const old = bearer(await userWithToken(app, { username: 'erin', roles: ['reader'], tenant: 'hooli' }))
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: old })).statusCode, 200, 'works before')

  const changed = await app.inject({ method: 'PATCH', url: '/users/erin', headers: admin, payload: { password: 'a-brand-new-password' } })
  t.equal(changed.statusCode, 200)
  await pastCache()
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: old })).statusCode, 401, 'the old token is refused')

  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'erin', password: TEST_PASSWORD } })).statusCode, 401, 'the old password is refused')
  const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'erin', password: 'a-brand-new-password' } })
  t.equal(login.statusCode, 200, 'the new password works')
  const me = await app.inject({ method: 'GET', url: '/me', headers: bearer(login.json().access_token) })
  t.equal(me.statusCode, 200, 'and its token works')
})
