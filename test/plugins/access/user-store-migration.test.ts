import t from 'tap'
import { MongoClient } from 'mongodb'
import { bearer, build, MONGODB_URL, TEST_PASSWORD, testDatabaseName } from '../../helper.js'
import { hashPassword } from '../../../src/plugins/app/access/passwords.js'
import { userKey } from '../../../src/plugins/app/access/user-store.js'

/**
 * Users stored when usernames were global (`_id` = the lower-cased name, no incarnation) are moved to
 * their tenant's key at startup and given an incarnation: they keep logging in, one tenant's name no longer
 * blocks another's, and their tokens from before the move (without `uid`) need a new login.
 */
t.test('users stored with global keys move to tenant keys at startup and keep logging in', async (t) => {
  const client = new MongoClient(MONGODB_URL)
  t.teardown(() => client.close())
  const now = new Date()
  await client.db(testDatabaseName).collection('users').insertOne({
    _id: 'oldtimer' as unknown as never,
    username: 'OldTimer',
    password_hash: await hashPassword(TEST_PASSWORD),
    roles: ['reader', 'admin'],
    tenant: 'legacy-tenant',
    disabled: false,
    created_at: now,
    updated_at: now,
    token_version: 2
  })

  const app = await build(t)
  const moved = await app.userStore.collection.find({}).toArray()
  t.same(moved.map((user) => user._id), [userKey('legacy-tenant', 'OldTimer')], 'one user, under its tenant key')
  t.match(moved[0], { username: 'OldTimer', tenant: 'legacy-tenant', token_version: 2, roles: ['reader', 'admin'] }, 'otherwise unchanged')
  t.match(moved[0]?.uid, /^[0-9a-f-]{36}$/, 'and given an incarnation')

  const login = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username: 'oldtimer', password: TEST_PASSWORD, tenant: 'legacy-tenant' }
  })
  t.equal(login.statusCode, 200, 'it logs in with its tenant')
  const admin = bearer(login.json().access_token)
  t.equal((await app.inject({ method: 'GET', url: '/users/OLDTIMER', headers: admin })).statusCode, 200, 'and finds itself')
})
