import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import argon2 from 'argon2'
import { build, MONGODB_URL, TEST_HASH_COST, testDatabaseName } from '../helper.js'

/** `npm run users -- ...` run as the operator would, against this file's database, then checked through the app. */

const projectRoot = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The environment an operator's shell would have: without the test runner's coverage hooks (inherited
 * through NODE_OPTIONS, they make each run several times slower) and without any service secrets.
 */
function operatorEnvironment (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) =>
    !/^(NODE_OPTIONS|NODE_V8_COVERAGE|_TAPJS_|TAP_?|JWT_|ADMIN_|MONGODB_|DATA_DIR)/.test(name)))
}

const testHashCost = Object.fromEntries(Object.entries(TEST_HASH_COST).map(([name, value]) => [name, String(value)]))

interface Run { code: number | null, stdout: string, stderr: string }

async function users (args: string[], stdin = ''): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/users.ts', ...args], {
    cwd: projectRoot,
    // the test cost of argon2 (NODE_ENV=test allows it): these runs are about the commands, not the hashing
    env: { ...operatorEnvironment(), ...testHashCost, MONGODB_URL, MONGODB_DATABASE: testDatabaseName },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdin.end(stdin)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, stdout, stderr }
}

t.test('create, list, disable and set-password; the created user logs in through the app', async (t) => {
  const app = await build(t)
  const dir = mkdtempSync(join(tmpdir(), 'users-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  const created = await users(['create', 'Alice', '--tenant', 'acme', '--roles', 'admin,writer'], 'alice-password-123\n')
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /created Alice in tenant acme with roles admin,writer/)

  const login = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username: 'alice', password: 'alice-password-123', tenant: 'acme' }
  })
  t.equal(login.statusCode, 200, 'the user logs in (the trailing newline from stdin is not part of the password)')
  const me = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${login.json().access_token}` } })
  t.same(
    { ...me.json(), token_expires_at: undefined },
    { username: 'Alice', tenant: 'acme', roles: ['admin', 'writer'], token_expires_at: undefined }
  )

  const passwordFile = join(dir, 'bob.txt')
  writeFileSync(passwordFile, 'bob-password-4567', { mode: 0o600 })
  const fromFile = await users(['create', 'bob', '--tenant', 'globex', '--roles', 'reader', '--password-file', passwordFile])
  t.equal(fromFile.code, 0, fromFile.stderr)
  t.ok(
    await argon2.verify((await app.userStore.find('globex', 'bob'))?.password_hash ?? '', 'bob-password-4567'),
    'the password came from the file'
  )

  const list = await users(['list'])
  t.equal(list.code, 0)
  const lines = list.stdout.trim().split('\n')
  t.equal(lines.length, 2)
  t.match(lines[0], /^Alice\ttenant=acme\troles=admin,writer\tenabled\t/)
  t.match(lines[1], /^bob\ttenant=globex\troles=reader\tenabled\t/)

  const disabled = await users(['disable', 'alice'])
  t.equal(disabled.code, 0, disabled.stderr)
  t.equal((await app.userStore.find('acme', 'alice'))?.disabled, true)
  const refused = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username: 'alice', password: 'alice-password-123', tenant: 'acme' }
  })
  t.equal(refused.statusCode, 401, 'a disabled user cannot log in')
  const acme = await users(['list', '--tenant', 'acme'])
  t.match(acme.stdout, /^Alice\ttenant=acme\troles=admin,writer\tdisabled\t[^\n]*\n$/, 'one tenant only, now disabled')

  const changed = await users(['set-password', 'bob'], 'bob-new-password-890')
  t.equal(changed.code, 0, changed.stderr)
  const bob = await app.userStore.find('globex', 'bob')
  t.ok(await argon2.verify(bob?.password_hash ?? '', 'bob-new-password-890'), 'the new password is stored')
  t.ok((bob?.token_version ?? 0) > 0, 'older tokens are cut off')
})

t.test('mistakes: exit 2 for usage, 1 for refused commands, each with a one-line error', async (t) => {
  const app = await build(t)
  await app.userStore.create({ username: 'dora', password: 'dora-password-123', roles: ['reader'], tenant: 'acme' })
  // independent runs: side by side, to keep the file short
  const [none, password, role, short, duplicate, missing] = await Promise.all([
    users([]),
    users(['create', 'carol', '--tenant', 't', '--roles', 'reader', '--password=secret-secret-1']),
    users(['create', 'carol', '--tenant', 't', '--roles', 'reader,root'], 'long-enough-password'),
    users(['create', 'carol', '--tenant', 't', '--roles', 'reader'], 'elevenchars'),
    users(['create', 'DORA', '--tenant', 'acme', '--roles', 'reader'], 'another-password-123'),
    users(['disable', 'nobody'])
  ])
  t.equal(none.code, 2, 'no command: exit 2')
  t.match(none.stderr, /^error: missing command\nusage:/, 'with the usage')
  t.equal(password.code, 2, 'a password on the command line: exit 2')
  t.match(password.stderr, /^error: passwords are never taken from the command line[^\n]*\n/)
  t.equal(role.code, 2, 'an unknown role: exit 2')
  t.match(role.stderr, /^error: unknown role: root \(roles are admin, writer, reader, monitor\)\n/)
  t.equal(short.code, 1, 'a short password: exit 1')
  t.equal(short.stderr, 'error: the password must have at least 12 characters\n')
  t.equal(duplicate.code, 1, 'a username taken in that tenant, in any case: exit 1')
  t.match(duplicate.stderr, /^error: a user named DORA already exists[^\n]*\n$/)
  t.equal(missing.code, 1, 'an unknown user: exit 1')
  t.equal(missing.stderr, 'error: no user named nobody\n')
  t.equal(await app.userStore.find('t', 'carol'), null, 'nothing was created')
})

t.test('usernames are per tenant: the same name in two tenants; disable needs --tenant then', async (t) => {
  const app = await build(t)
  await app.userStore.create({ username: 'eve', password: 'eve-password-1234', roles: ['reader'], tenant: 'north' })
  const other = await users(['create', 'EVE', '--tenant', 'south', '--roles', 'writer'], 'eve-password-5678')
  t.equal(other.code, 0, other.stderr)
  const ambiguous = await users(['disable', 'eve'])
  t.equal(ambiguous.code, 1, 'ambiguous without --tenant: exit 1')
  t.equal(ambiguous.stderr, 'error: users named eve exist in several tenants (north, south): give --tenant\n')
  const disabled = await users(['disable', 'eve', '--tenant', 'south'])
  t.equal(disabled.code, 0, disabled.stderr)
  t.equal((await app.userStore.find('south', 'eve'))?.disabled, true, 'south\'s eve is disabled')
  t.equal((await app.userStore.find('north', 'eve'))?.disabled, false, 'north\'s is not')
})
