import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { MongoClient } from 'mongodb'
import { buildApp, serverOptions } from '../../../src/app.js'
import { ADMIN_PASSWORD_FILE } from '../../../src/plugins/app/access/bootstrap-admin.js'
import { build, createUser, MONGODB_URL, testConfig, testDatabaseName, type TestContext } from '../../helper.js'
import type { ConfigInput } from '../../../src/config.js'

/**
 * Someone can always log in to a fresh install: the admin from ADMIN_USERNAME/ADMIN_PASSWORD, or on the
 * embedded default an `admin` whose generated password is in a 0600 file, never in the log.
 */

const ADMIN_PASSWORD = 'bootstrap-admin-password-123'

/** Databases of their own, for the cases that need "no users yet"; dropped when the file ends. */
const ownDatabases = { empty: `${testDatabaseName}_x`, embedded: `${testDatabaseName}_e`, seeded: `${testDatabaseName}_u` }
t.teardown(async () => {
  const client = new MongoClient(MONGODB_URL)
  try {
    for (const name of Object.values(ownDatabases)) await client.db(name).dropDatabase()
  } finally {
    await client.close()
  }
})

interface Built { app: FastifyInstance, log: () => string }

/**
 * The app as the server builds it, its log captured. `embedded: true` is what src/server.ts sets when it
 * started the embedded database; here the database is still the test server, in a database of its own
 * (so that "no users yet" holds), dropped at the end.
 */
async function buildCapturing (t: TestContext, input: ConfigInput, embedded: boolean): Promise<Built> {
  const config = { ...testConfig({ LOG_LEVEL: 'info', ...input }), embedded }
  const lines: string[] = []
  const base = serverOptions(config).logger as object
  const app = await buildApp({ config }, { logger: { ...base, stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  await app.ready()
  return { app, log: () => lines.join('') }
}

async function login (app: FastifyInstance, username: string, password: string) {
  return await app.inject({ method: 'POST', url: '/login', payload: { username, password } })
}

t.test('ADMIN_USERNAME/ADMIN_PASSWORD: that admin exists after startup, created once', async (t) => {
  await build(t) // schedules this file's database drop
  const env = { ADMIN_USERNAME: 'root', ADMIN_PASSWORD, ADMIN_TENANT: 'ops' }
  const first = await buildCapturing(t, env, false)
  const stored = await first.app.userStore.find('ops', 'root')
  t.same([stored?.username, stored?.tenant, stored?.roles, stored?.disabled], ['root', 'ops', ['admin', 'writer', 'reader'], false])
  t.match(first.log(), /created the bootstrap admin/)
  t.notMatch(first.log(), ADMIN_PASSWORD, 'the password is not logged')
  t.equal((await login(first.app, 'root', ADMIN_PASSWORD)).statusCode, 200, 'and it logs in')

  // a restart, even with another password in the environment, leaves the existing admin as it is
  const second = await buildCapturing(t, { ...env, ADMIN_PASSWORD: 'a-different-password-456' }, false)
  t.equal(await second.app.userStore.collection.countDocuments({ username: 'root' }), 1, 'still one')
  t.equal((await second.app.userStore.find('ops', 'root'))?.password_hash, stored?.password_hash, 'unchanged')
  t.notMatch(second.log(), /created the bootstrap admin/, 'nothing created the second time')
})

t.test('without ADMIN_* and not embedded, nobody is created', async (t) => {
  const app = await build(t, { config: { MONGODB_DATABASE: ownDatabases.empty } })
  t.equal(await app.userStore.collection.countDocuments({}), 0)
})

t.test('embedded default with no users: `admin` with a random password in DATA_DIR/admin-password.txt (0600), never logged', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bootstrap-admin-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const input = { DATA_DIR: dataDir, MONGODB_DATABASE: ownDatabases.embedded }

  const first = await buildCapturing(t, input, true)
  const file = join(dataDir, ADMIN_PASSWORD_FILE)
  t.ok(existsSync(file), 'the password file exists')
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only')
  const password = readFileSync(file, 'utf8').trim()
  t.ok(password.length >= 32, 'a long random password')

  const admin = await first.app.userStore.find('default', 'admin')
  t.same([admin?.tenant, admin?.roles], ['default', ['admin', 'writer', 'reader']])
  t.match(admin?.password_hash, /^\$argon2id\$/)
  t.ok(first.log().includes(resolve(file)), 'the log names the file')
  t.notOk(first.log().includes(password), 'the log never contains the password')
  t.equal((await login(first.app, 'admin', password)).statusCode, 200, 'the password in the file logs in')

  // a restart finds a user and creates nothing; the file is not rewritten
  const second = await buildCapturing(t, input, true)
  t.equal(await second.app.userStore.collection.countDocuments({}), 1)
  t.equal(readFileSync(file, 'utf8').trim(), password)
  t.notOk(second.log().includes(password))
})

t.test('embedded default that already has users: no admin and no password file', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bootstrap-admin-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const input = { DATA_DIR: dataDir, MONGODB_DATABASE: ownDatabases.seeded }
  const seeded = await build(t, { config: input })
  await createUser(seeded, { username: 'someone', roles: ['reader'] })

  const { app } = await buildCapturing(t, input, true)
  t.equal(await app.userStore.find('default', 'admin'), null)
  t.notOk(existsSync(join(dataDir, ADMIN_PASSWORD_FILE)))
})
