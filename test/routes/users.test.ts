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

  const created = await app.inject({
    method: 'POST',
    url: '/users',
    headers: admin,
    payload: { username: 'Alice', password: 'a-long-enough-password', roles: ['reader', 'writer'] }
  })
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.same(
    { ...body, created_at: undefined },
    { username: 'Alice', tenant: 'acme', roles: ['reader', 'writer'], disabled: false, created_at: undefined },
    "in the admin's tenant"
  )
  t.ok(Math.abs(Date.parse(body.created_at) - Date.now()) < 60000, 'created_at is now')
  t.notOk('password' in body || 'password_hash' in body, 'no password or hash is ever returned')
  t.match((await app.userStore.find('acme', 'alice'))?.password_hash, /^\$argon2id\$/, 'the stored hash is argon2id')

  const login = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username: 'alice', password: 'a-long-enough-password', tenant: 'acme' }
  })
  t.equal(login.statusCode, 200, 'the new user logs in')

  for (const username of ['Alice', 'alice', 'ALICE']) {
    const duplicate = await app.inject({
      method: 'POST',
      url: '/users',
      headers: admin,
      payload: { username, password: 'another-long-password', roles: ['reader'] }
    })
    t.equal(duplicate.statusCode, 409, `${username} is taken`)
    t.same(duplicate.json(), { statusCode: 409, code: 'CONFLICT', error: 'Conflict', message: 'A user with this username already exists' })
  }
  const otherAdmin = await adminOf(app, 'globex')
  const elsewhere = await app.inject({
    method: 'POST',
    url: '/users',
    headers: otherAdmin,
    payload: { username: 'alice', password: 'another-long-password', roles: ['reader'] }
  })
  t.equal(elsewhere.statusCode, 201, 'usernames are per tenant: another tenant\'s alice is no conflict')

  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an 11-character password', { username: 'bob', password: 'elevenchars', roles: ['reader'] }, /password/],
    [
      'an unknown field',
      { username: 'bob', password: 'a-long-enough-password', roles: ['reader'], nickname: 'bobby' },
      /nickname|additional/
    ],
    [
      'a tenant in the body',
      { username: 'bob', password: 'a-long-enough-password', roles: ['reader'], tenant: 'globex' },
      /tenant|additional/
    ],
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
  t.equal(await app.userStore.find('acme', 'bob'), null, 'nothing was stored for the refused ones')
})

t.test('GET, PATCH and DELETE /users/{username} within the tenant; another tenant\'s users are 404', async (t) => {
  const app = await build(t)
  const admin = await adminOf(app, 'initech')
  await createUser(app, { username: 'carol', roles: ['reader'], tenant: 'initech' })
  await createUser(app, { username: 'dan', roles: ['writer'], tenant: 'initech' })
  await createUser(app, { username: 'mallory', roles: ['reader'], tenant: 'globex' })

  const list = await app.inject({ method: 'GET', url: '/users', headers: admin })
  t.equal(list.statusCode, 200)
  t.same(
    list.json().items.map((user: { username: string }) => user.username),
    ['admin-initech', 'carol', 'dan'],
    "only the tenant's users"
  )

  const carol = await app.inject({ method: 'GET', url: '/users/CAROL', headers: admin })
  t.equal(carol.statusCode, 200, 'found in any case')
  t.same(
    { ...carol.json(), created_at: undefined },
    { username: 'carol', tenant: 'initech', roles: ['reader'], disabled: false, created_at: undefined }
  )

  const missing = await app.inject({ method: 'GET', url: '/users/nobody', headers: admin })
  t.equal(missing.statusCode, 404)
  const foreign = await app.inject({ method: 'GET', url: '/users/mallory', headers: admin })
  t.equal(foreign.statusCode, 404, 'another tenant\'s user is not there')
  t.same(foreign.json(), missing.json(), 'exactly like a missing one')

  const patched = await app.inject({
    method: 'PATCH',
    url: '/users/carol',
    headers: admin,
    payload: { roles: ['reader', 'writer'], disabled: true }
  })
  t.equal(patched.statusCode, 200)
  t.same(patched.json().roles, ['reader', 'writer'])
  t.equal(patched.json().disabled, true)
  const reenabled = await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: { disabled: false } })
  t.equal(reenabled.json().disabled, false)
  t.same(reenabled.json().roles, ['reader', 'writer'], 'fields not sent are kept')

  t.equal(
    (await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: {} })).statusCode,
    400,
    'an empty change is 400'
  )
  t.equal(
    (await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: { password: 'short' } })).statusCode,
    400,
    'a short password is 400'
  )
  t.equal(
    (await app.inject({ method: 'PATCH', url: '/users/carol', headers: admin, payload: { tenant: 'globex' } })).statusCode,
    400,
    'the tenant cannot be changed'
  )

  const foreignPatch = await app.inject({
    method: 'PATCH',
    url: '/users/mallory',
    headers: admin,
    payload: { roles: ['admin'], disabled: true }
  })
  t.equal(foreignPatch.statusCode, 404, 'another tenant\'s user cannot be changed')
  const mallory = await app.userStore.find('globex', 'mallory')
  t.same([mallory?.roles, mallory?.disabled], [['reader'], false], 'and was not')

  const foreignDelete = await app.inject({ method: 'DELETE', url: '/users/mallory', headers: admin })
  t.equal(foreignDelete.statusCode, 404, 'another tenant\'s user cannot be deleted')
  t.not(await app.userStore.find('globex', 'mallory'), null, 'and was not')

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
  t.equal(
    (await app.inject({ method: 'PATCH', url: '/users/to-rerole', headers: admin, payload: { roles: ['reader', 'writer'] } })).statusCode,
    200
  )
  await pastCache()

  for (const [name, headers] of Object.entries(tokens)) {
    const res = await app.inject({ method: 'GET', url: '/events', headers })
    t.equal(res.statusCode, 401, `${name}: refused after`)
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
  // a re-roled user's token is refused even for a route its new roles allow; a fresh token carries the new roles
  const stored = await app.userStore.find('umbrella', 'to-rerole')
  const fresh = bearer(
    app.loginService.issueToken({
      username: 'to-rerole',
      tenant: 'umbrella',
      roles: ['reader', 'writer'],
      token_version: stored?.token_version ?? 0,
      uid: stored?.uid ?? ''
    }).access_token
  )
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

  t.equal(
    (await app.inject({ method: 'POST', url: '/login', payload: { username: 'erin', password: TEST_PASSWORD, tenant: 'hooli' } }))
      .statusCode,
    401,
    'the old password is refused'
  )
  const login = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username: 'erin', password: 'a-brand-new-password', tenant: 'hooli' }
  })
  t.equal(login.statusCode, 200, 'the new password works')
  const me = await app.inject({ method: 'GET', url: '/me', headers: bearer(login.json().access_token) })
  t.equal(me.statusCode, 200, 'and its token works')
})

t.test(
  "a deleted user's tokens stay dead when the same username is created again, in any case, with the same roles and password",
  async (t) => {
    const app = await build(t, { config: { AUTH_CACHE_MS } })
    const admin = await adminOf(app, 'stark')
    const create = async (username: string) =>
      await app.inject({
        method: 'POST',
        url: '/users',
        headers: admin,
        payload: { username, password: 'the-same-long-password', roles: ['reader'] }
      })
    const loginAs = async (username: string) =>
      bearer(
        (
          await app.inject({ method: 'POST', url: '/login', payload: { username, password: 'the-same-long-password', tenant: 'stark' } })
        ).json().access_token
      )

    t.equal((await create('Tony')).statusCode, 201)
    const old = await loginAs('tony')
    t.equal((await app.inject({ method: 'GET', url: '/me', headers: old })).statusCode, 200, 'works before')

    t.equal((await app.inject({ method: 'DELETE', url: '/users/tony', headers: admin })).statusCode, 204)
    t.equal((await create('TONY')).statusCode, 201, 'the name is free again')
    await pastCache()
    t.equal((await app.inject({ method: 'GET', url: '/me', headers: old })).statusCode, 401, "the first incarnation's token is refused")
    t.equal((await app.inject({ method: 'GET', url: '/events', headers: old })).statusCode, 401, 'on every route')

    const fresh = await loginAs('Tony')
    t.equal(
      (await app.inject({ method: 'GET', url: '/me', headers: fresh })).statusCode,
      200,
      'the new incarnation logs in and its token works'
    )

    // the same holds when the user document is put back as it was, but under a new incarnation
    const stored = await app.userStore.collection.findOne({ username: 'TONY' })
    t.ok(stored !== null, 'stored')
    await app.userStore.collection.updateOne({ _id: stored!._id }, { $set: { token_version: 0 } })
    await pastCache()
    t.equal(
      (await app.inject({ method: 'GET', url: '/me', headers: old })).statusCode,
      401,
      'resetting token_version does not revive it either'
    )
  }
)

t.test('usernames are per tenant: an admin learns nothing of another tenant\'s names and cannot block them', async (t) => {
  const app = await build(t)
  const acme = await adminOf(app, 'acme-4')
  const globex = await adminOf(app, 'globex-4')
  const create = async (admin: Record<string, string>, username: string, password: string) =>
    await app.inject({ method: 'POST', url: '/users', headers: admin, payload: { username, password, roles: ['reader'] } })
  const loginAs = async (username: string, password: string, tenant?: string) =>
    await app.inject({ method: 'POST', url: '/login', payload: { username, password, ...(tenant === undefined ? {} : { tenant }) } })

  t.equal((await create(acme, 'a_reader', 'acme-password-123')).statusCode, 201)
  for (const name of ['a_reader', 'A_READER']) {
    const res = await create(globex, name, 'globex-password-123')
    t.equal(
      res.statusCode,
      name === 'a_reader' ? 201 : 409,
      name === 'a_reader' ? "another tenant's name is free here: nothing is revealed" : 'and is then taken here, in any case'
    )
  }
  t.equal((await create(globex, 'not-yet-used', 'globex-password-123')).statusCode, 201)
  t.equal((await create(acme, 'not-yet-used', 'acme-password-123')).statusCode, 201, 'a name another tenant took first is not squatted')

  const acmeLogin = await loginAs('a_reader', 'acme-password-123', 'acme-4')
  t.equal(acmeLogin.statusCode, 200, 'each logs in with its tenant')
  const globexLogin = await loginAs('A_Reader', 'globex-password-123', 'globex-4')
  t.equal(globexLogin.statusCode, 200)
  const me = async (res: { json: () => { access_token: string } }) =>
    (await app.inject({ method: 'GET', url: '/me', headers: bearer(res.json().access_token) })).json()
  t.match(await me(acmeLogin), { username: 'a_reader', tenant: 'acme-4' })
  t.match(await me(globexLogin), { username: 'a_reader', tenant: 'globex-4' })
  t.equal(
    (await loginAs('a_reader', 'acme-password-123', 'globex-4')).statusCode,
    401,
    "one tenant's password does not open the other's user"
  )
  t.equal((await loginAs('a_reader', 'acme-password-123')).statusCode, 401, 'without a tenant, the default tenant is meant')

  t.match(
    (await app.inject({ method: 'GET', url: '/users/a_reader', headers: globex })).json(),
    { tenant: 'globex-4' },
    "GET names the admin's own user"
  )
  t.equal((await app.inject({ method: 'DELETE', url: '/users/a_reader', headers: globex })).statusCode, 204)
  t.equal((await loginAs('a_reader', 'acme-password-123', 'acme-4')).statusCode, 200, 'deleting one tenant\'s user leaves the other\'s')
  t.equal(
    (await app.inject({ method: 'GET', url: '/me', headers: bearer(acmeLogin.json().access_token) })).statusCode,
    200,
    'and its token'
  )
})

t.test('a login without tenant is a login to the default tenant (ADMIN_TENANT)', async (t) => {
  const app = await build(t, { config: { ADMIN_TENANT: 'main' } })
  await createUser(app, { username: 'same-name', roles: ['reader'], tenant: 'main' })
  await createUser(app, { username: 'same-name', roles: ['writer'], tenant: 'side' })
  const plain = await app.inject({ method: 'POST', url: '/login', payload: { username: 'same-name', password: TEST_PASSWORD } })
  t.equal(plain.statusCode, 200, 'the original single-field login works')
  t.match((await app.inject({ method: 'GET', url: '/me', headers: bearer(plain.json().access_token) })).json(), {
    tenant: 'main',
    roles: ['reader']
  })
  const side = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username: 'same-name', password: TEST_PASSWORD, tenant: 'side' }
  })
  t.equal(side.statusCode, 200)
  t.match((await app.inject({ method: 'GET', url: '/me', headers: bearer(side.json().access_token) })).json(), {
    tenant: 'side',
    roles: ['writer']
  })
})
