import t from 'tap'
import { randomBytes } from 'node:crypto'
import { basename, join } from 'node:path'
import { tmpdir } from 'node:os'
import { MongoClient } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, toAppConfig, type AppConfig, type ConfigInput } from '../src/config.js'
import { PasswordHasher } from '../src/plugins/app/access/passwords.js'
import type { Role } from '../src/schemas/roles.js'
import { userKey } from '../src/plugins/app/access/user-store.js'
import { BriefSampleEvent } from '../src/schemas/event.js'

/**
 * Tests run against a real server over the wire: the one in MONGODB_URL, which `npm test` provides
 * (scripts/with-database.ts starts FerretDB when none is given). Each test file (one process under tap)
 * gets its own database, dropped when the file's tests end.
 */
export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789'
export const TEST_PASSWORD = 'correct horse battery staple'

const url = process.env.MONGODB_URL
if (url === undefined || url === '') {
  throw new Error('MONGODB_URL is not set: run the tests with `npm test` (it starts a database), or set MONGODB_URL')
}
export const MONGODB_URL: string = url

/** This file's own database: test_<file>_<pid>_<random>. */
export const testDatabaseName = `test_${basename(process.argv[1] ?? 'file')
  .replace(/\.test\.ts$/, '')
  .replace(/[^A-Za-z0-9]/g, '_')
  .slice(0, 30)}_${process.pid}_${randomBytes(3).toString('hex')}`

let dropScheduled = false
function scheduleDrop (): void {
  if (dropScheduled) return
  dropScheduled = true
  t.teardown(async () => {
    const client = new MongoClient(MONGODB_URL)
    try {
      await client.db(testDatabaseName).dropDatabase()
    } finally {
      await client.close()
    }
  })
}

/** One checkpoint signing key per test file, generated on first use; every app of the file shares it, as replicas must. */
export const TEST_SIGNING_KEY_FILE = join(tmpdir(), `audit-log-test-signing-key-${process.pid}.pem`)

/**
 * The argon2id cost of tests that are not about hashing: 1 MiB, one pass (the default, 64 MiB × 3, is what
 * test/routes/auth.test.ts checks). NODE_ENV=test is what allows a cost below the production floor.
 */
export const TEST_HASH_COST = { PASSWORD_HASH_MEMORY_KIB: 1024, PASSWORD_HASH_TIME_COST: 1, NODE_ENV: 'test' }

/** A validated config for tests: silent logs, this file's database, a cheap password hash, and any overrides. */
export function testConfig (overrides: ConfigInput = {}): AppConfig {
  // tests that are not about read admission send many reads at once: the limits are lifted unless a test sets them.
  // Tests that count a tenant's events would count their own reads: access auditing is on only where a test
  // says so, and the sweeper runs only when a test calls it (test/routes/audit-trail.test.ts, test/plugins/retention/)
  const quiet = { AUDIT_ACCESS: false, RETENTION_SWEEP_INTERVAL_MS: 0 }
  const config = loadConfig({
    MONGODB_URL,
    JWT_SECRET: TEST_SECRET,
    MONGODB_DATABASE: testDatabaseName,
    LOG_LEVEL: 'silent',
    SIGNING_KEY_FILE: TEST_SIGNING_KEY_FILE,
    QUERY_MAX_CONCURRENT: 1000,
    QUERY_MAX_CONCURRENT_PER_TENANT: 1000,
    ...TEST_HASH_COST,
    ...quiet,
    ...overrides
  })
  return toAppConfig(config, { url: MONGODB_URL, secret: TEST_SECRET })
}

/** The part of a tap test the helpers need. */
export interface TestContext { teardown: (fn: () => unknown) => void }

export interface BuildOptions {
  config?: ConfigInput
  /** Driver command events are always emitted now (the metrics time them); kept so tests can say they rely on them. */
  monitorCommands?: boolean
  webhookClock?: AppOptions['webhookClock']
}

/** The real app on the real database, closed when the test ends. */
export async function build (test: TestContext, options: BuildOptions = {}): Promise<FastifyInstance> {
  scheduleDrop()
  const app = await buildApp({ config: testConfig(options.config), webhookClock: options.webhookClock })
  test.teardown(() => app.close())
  await app.ready()
  return app
}

let sharedHash: Promise<string> | undefined
/** Every test user has TEST_PASSWORD; its argon2id hash is computed once per file, at the tests' cost. */
function testPasswordHash (): Promise<string> {
  sharedHash ??= new PasswordHasher({
    memoryCost: TEST_HASH_COST.PASSWORD_HASH_MEMORY_KIB,
    timeCost: TEST_HASH_COST.PASSWORD_HASH_TIME_COST
  }).hash(TEST_PASSWORD)
  return sharedHash
}

export interface TestUser {
  username: string
  roles: Role[]
  tenant?: string
  disabled?: boolean
  /** The user's incarnation: fixed for tests that sign tokens by hand (see testUid), random by default in the store. */
  uid?: string
}

/** The incarnation createUser gives a user, so tests that sign their own tokens can name it. */
export function testUid (username: string): string {
  return `uid-${username.toLowerCase()}`
}

/** Stores a user (password TEST_PASSWORD) straight through the store's collection. */
export async function createUser (app: FastifyInstance, user: TestUser): Promise<void> {
  const now = new Date()
  await app.userStore.collection.insertOne({
    _id: userKey(user.tenant ?? 'tenant-a', user.username),
    uid: user.uid ?? testUid(user.username),
    username: user.username,
    password_hash: await testPasswordHash(),
    roles: user.roles,
    tenant: user.tenant ?? 'tenant-a',
    disabled: user.disabled ?? false,
    created_at: now,
    updated_at: now,
    token_version: 0
  })
}

/** A user and a token for it, as POST /login would issue (without paying for argon2 each time). */
export async function userWithToken (app: FastifyInstance, user: TestUser): Promise<string> {
  await createUser(app, user)
  return app.loginService.issueToken({
    username: user.username,
    tenant: user.tenant ?? 'tenant-a',
    roles: user.roles,
    token_version: 0,
    uid: user.uid ?? testUid(user.username)
  }).access_token
}

export function bearer (token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}

/** The brief's own sample event, accepted as is (a fresh copy each call). */
export function sampleEvent (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...structuredClone(BriefSampleEvent), ...overrides }
}
