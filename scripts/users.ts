import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { MongoClient } from 'mongodb'
import { ConfigError, loadConfig } from '../src/config.js'
import { PasswordHasher } from '../src/plugins/app/access/passwords.js'
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../src/embedded/ferretdb.js'
import { DuplicateUserError, UserStore, type StoredUser } from '../src/plugins/app/access/user-store.js'
import { ROLES, type Role } from '../src/schemas/roles.js'
import { MIN_PASSWORD_LENGTH, USERNAME_PATTERN } from '../src/schemas/auth.js'

/**
 * `npm run users -- <command>`: manages the users of any tenant from the shell (that is how a new
 * tenant's first admin is made). Passwords come from stdin or a file, never from argv, which other
 * local users can read in the process list and which shells keep in their history.
 */
const USAGE = `usage: npm run users -- <command> [options]
  create <username> --tenant <tenant> --roles <admin,writer,reader> [--password-file <path>]
  list [--tenant <tenant>]
  disable <username> [--tenant <tenant>]
  enable <username> [--tenant <tenant>]
  set-password <username> [--tenant <tenant>] [--password-file <path>]
Usernames are per tenant; without --tenant, disable/enable/set-password act on the one user of that name.
The password is read from --password-file, or else from stdin (e.g. \`printf %s "$PW" | npm run users -- create ...\`).
Connects to MONGODB_URL/MONGODB_DATABASE; without MONGODB_URL, to the embedded default's data under DATA_DIR.`

/** A mistake in the command line: exit 2 with the usage. */
class UsageError extends Error {}
/** The command could not be carried out: exit 1. */
class CommandError extends Error {}

interface Options { tenant?: string, roles?: string, 'password-file'?: string, help?: boolean }

async function main (argv: string[]): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        roles: { type: 'string' },
        'password-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    if (argv.some((arg) => arg === '--password' || arg.startsWith('--password='))) {
      throw new UsageError('passwords are never taken from the command line: pipe it on stdin or give --password-file <path>')
    }
    throw new UsageError((err as Error).message)
  }
  const { positionals, values } = parsed as { positionals: string[], values: Options }
  if (values.help === true) {
    process.stdout.write(USAGE + '\n')
    return
  }
  const [command, username, ...extra] = positionals
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`)

  switch (command) {
    case 'create': {
      const name = checkUsername(username)
      if (values.tenant === undefined || values.tenant.trim() === '' || values.tenant.length > 64) {
        throw new UsageError('create needs --tenant <tenant> (1 to 64 characters)')
      }
      const roles = parseRoles(values.roles)
      const password = await readPassword(values['password-file'])
      await withStore(async (store) => {
        try {
          const user = await store.create({ username: name, password, roles, tenant: values.tenant as string })
          process.stdout.write(`created ${user.username} in tenant ${user.tenant} with roles ${user.roles.join(',')}\n`)
        } catch (err) {
          if (err instanceof DuplicateUserError) {
            throw new CommandError(
              `a user named ${name} already exists in tenant ${values.tenant as string} (usernames are unique per tenant, in any case)`
            )
          }
          throw err
        }
      })
      return
    }
    case 'list': {
      if (username !== undefined) throw new UsageError(`unexpected argument: ${username}`)
      await withStore(async (store) => {
        const users = await store.list(values.tenant)
        for (const user of users) process.stdout.write(describe(user) + '\n')
        if (users.length === 0) process.stderr.write('no users\n')
      })
      return
    }
    case 'disable':
    case 'enable': {
      const name = checkUsername(username)
      await withStore(async (store) => {
        const user = await store.update(await tenantOf(store, name, values.tenant), name, { disabled: command === 'disable' })
        if (user === null) throw new CommandError(`no user named ${name}`)
        process.stdout.write(command === 'disable'
          ? `disabled ${user.username} (tenant ${user.tenant}); its tokens stop working within AUTH_CACHE_MS\n`
          : `enabled ${user.username} (tenant ${user.tenant})\n`)
      })
      return
    }
    case 'set-password': {
      const name = checkUsername(username)
      const password = await readPassword(values['password-file'])
      await withStore(async (store) => {
        const user = await store.update(await tenantOf(store, name, values.tenant), name, { password })
        if (user === null) throw new CommandError(`no user named ${name}`)
        process.stdout.write(`set the password of ${user.username} (tenant ${user.tenant}); its older tokens stop working\n`)
      })
      return
    }
    default:
      throw new UsageError(command === undefined ? 'missing command' : `unknown command: ${command}`)
  }
}

/** The tenant given, or else the tenant of the one user of that name (refused when there are several). */
async function tenantOf (store: UserStore, username: string, tenant: string | undefined): Promise<string> {
  if (tenant !== undefined) return tenant
  const found = await store.findEverywhere(username)
  if (found.length === 0) throw new CommandError(`no user named ${username}`)
  if (found.length > 1) {
    throw new CommandError(
      `users named ${username} exist in several tenants (${found
        .map((user) => user.tenant)
        .sort()
        .join(', ')}): give --tenant`
    )
  }
  return (found[0] as StoredUser).tenant
}

function checkUsername (username: string | undefined): string {
  if (username === undefined) throw new UsageError('missing <username>')
  if (username.length > 64 || !new RegExp(USERNAME_PATTERN).test(username)) {
    throw new UsageError(`invalid username: ${username} (letters, digits and . _ @ -, starting with a letter or digit, at most 64)`)
  }
  return username
}

function parseRoles (list: string | undefined): Role[] {
  if (list === undefined || list.trim() === '') throw new UsageError(`create needs --roles, a comma-separated list of ${ROLES.join(', ')}`)
  const roles = list.split(',').map((role) => role.trim())
  const unknown = roles.find((role) => !(ROLES as readonly string[]).includes(role))
  if (unknown !== undefined) throw new UsageError(`unknown role: ${unknown} (roles are ${ROLES.join(', ')})`)
  return roles as Role[]
}

/** From the file, or else from piped stdin; one trailing newline (as `echo` adds) is not part of it. */
async function readPassword (file: string | undefined): Promise<string> {
  let text: string
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new CommandError(`cannot read the password file: ${(err as Error).message}`)
    }
  } else {
    if (process.stdin.isTTY === true) {
      throw new UsageError('pipe the password on stdin or give --password-file <path> (never on the command line)')
    }
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    text = Buffer.concat(chunks).toString('utf8')
  }
  const password = text.replace(/\r?\n$/, '')
  if (password.length < MIN_PASSWORD_LENGTH) throw new CommandError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`)
  if (password.length > 1024) throw new CommandError('the password must have at most 1024 characters')
  return password
}

function describe (user: StoredUser): string {
  return [
    user.username,
    `tenant=${user.tenant}`,
    `roles=${user.roles.join(',')}`,
    user.disabled ? 'disabled' : 'enabled',
    `created=${user.created_at.toISOString()}`
  ].join('\t')
}

/**
 * The same database the service uses. Only the database settings are read: the CLI signs no tokens, so
 * it does not need JWT_SECRET (which loadConfig requires alongside MONGODB_URL).
 */
async function withStore (task: (store: UserStore) => Promise<void>): Promise<void> {
  const url = process.env.MONGODB_URL === '' ? undefined : process.env.MONGODB_URL
  let config
  try {
    config = loadConfig({
      MONGODB_DATABASE: process.env.MONGODB_DATABASE,
      DATA_DIR: process.env.DATA_DIR,
      FERRETDB_BIN: process.env.FERRETDB_BIN,
      DB_TIMEOUT_MS: process.env.DB_TIMEOUT_MS,
      // the hashes it makes have the service's cost
      PASSWORD_HASH_MEMORY_KIB: process.env.PASSWORD_HASH_MEMORY_KIB,
      PASSWORD_HASH_TIME_COST: process.env.PASSWORD_HASH_TIME_COST,
      NODE_ENV: process.env.NODE_ENV
    })
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandError(err.message)
    throw err
  }
  let embedded: EmbeddedDatabase | undefined
  if (url === undefined) {
    // the server's embedded FerretDB keeps its data in SQLite files that a second FerretDB can open too
    embedded = await startEmbeddedDatabase({ dataDir: join(config.DATA_DIR, 'ferretdb'), binary: config.FERRETDB_BIN, log: () => {} })
  }
  const client = new MongoClient(url ?? (embedded as EmbeddedDatabase).url, { serverSelectionTimeoutMS: config.DB_TIMEOUT_MS })
  try {
    await task(
      new UserStore(
        client.db(config.MONGODB_DATABASE),
        new PasswordHasher({ memoryCost: config.PASSWORD_HASH_MEMORY_KIB, timeCost: config.PASSWORD_HASH_TIME_COST })
      )
    )
  } finally {
    await client.close()
    await embedded?.stop()
  }
}

try {
  await main(process.argv.slice(2))
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n${process.argv.length > 2 ? 'run `npm run users -- --help` for usage' : USAGE}\n`)
    process.exitCode = 2
  } else {
    // one line: a driver error's message can run on (server selection lists every host it tried)
    process.stderr.write(`error: ${String(err instanceof Error ? err.message : err).split('\n')[0]}\n`)
    process.exitCode = 1
  }
}
