import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Collection, Db } from 'mongodb'
import type { Role } from '../../../schemas/roles.js'
import { PasswordHasher } from './passwords.js'
import { ensureIndexes } from '../storage/indexes.js'
import { insertUnique, isDuplicateKey } from '../storage/duplicate-key.js'

declare module 'fastify' {
  interface FastifyInstance {
    userStore: UserStore
  }
}

export interface StoredUser {
  /**
   * userKey(tenant, username): usernames are unique per tenant, case-insensitively without collations
   * (FerretDB has none), and one tenant's names neither collide with nor reveal another's.
   */
  _id: string
  /**
   * This incarnation of the user: random at creation and carried in every token as `uid`. A user deleted
   * and created again under the same name is another user, whose tokens the old ones are not.
   */
  uid: string
  username: string
  password_hash: string
  roles: Role[]
  tenant: string
  disabled: boolean
  created_at: Date
  updated_at: Date
  /**
   * Carried in every token as `ver`; a token whose `ver` differs is refused. Bumped by a password change, a
   * disable or a role change, so those tokens stay dead even if the user is re-enabled or re-roled later.
   */
  token_version: number
}

export interface NewUser {
  username: string
  password: string
  roles: Role[]
  tenant: string
}

export interface UserChanges {
  roles?: Role[]
  disabled?: boolean
  password?: string
}

export class DuplicateUserError extends Error {}

/** The tenant and the lower-cased username, JSON-encoded: no tenant or name can make another pair's key. */
export function userKey (tenant: string, username: string): string {
  return JSON.stringify([tenant, username.toLowerCase()])
}

export class UserStore {
  readonly collection: Collection<StoredUser>

  constructor (db: Db, private readonly passwords = new PasswordHasher()) {
    this.collection = db.collection<StoredUser>('users')
  }

  async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.collection, [{ key: { tenant: 1, _id: 1 }, name: 'tenant_user' }])
  }

  /** Users stored before incarnations existed get one; their older tokens (without `uid`) stop working. */
  async assignMissingIncarnations (): Promise<void> {
    for (const user of await this.collection.find({ uid: { $exists: false } }, { projection: { _id: 1 } }).toArray()) {
      await this.collection.updateOne({ _id: user._id, uid: { $exists: false } }, { $set: { uid: randomUUID() } })
    }
  }

  async create (user: NewUser): Promise<StoredUser> {
    const now = new Date()
    const doc: StoredUser = {
      _id: userKey(user.tenant, user.username),
      uid: randomUUID(),
      username: user.username,
      password_hash: await this.passwords.hash(user.password),
      roles: [...new Set(user.roles)],
      tenant: user.tenant,
      disabled: false,
      created_at: now,
      updated_at: now,
      token_version: 0
    }
    try {
      await this.collection.insertOne(doc)
    } catch (err) {
      if (isDuplicateKey(err)) throw new DuplicateUserError(user.username)
      throw err
    }
    return doc
  }

  /** Always within one tenant: an admin never sees, changes or learns of another tenant's users. */
  async find (tenant: string, username: string): Promise<StoredUser | null> {
    return await this.collection.findOne({ _id: userKey(tenant, username) })
  }

  /** Every tenant's user of this name (the CLI, when no tenant is given). */
  async findEverywhere (username: string): Promise<StoredUser[]> {
    const lower = username.toLowerCase()
    return (await this.collection.find({}, { projection: { _id: 1, tenant: 1, username: 1 } }).toArray())
      .filter((user) => user.username.toLowerCase() === lower)
  }

  async list (tenant: string | undefined, limit = 1000): Promise<StoredUser[]> {
    return await this.collection.find(tenant === undefined ? {} : { tenant }).sort({ _id: 1 }).limit(limit).toArray()
  }

  async count (): Promise<number> {
    return await this.collection.estimatedDocumentCount()
  }

  async update (tenant: string, username: string, changes: UserChanges): Promise<StoredUser | null> {
    const set: Partial<StoredUser> = { updated_at: new Date() }
    if (changes.roles !== undefined) set.roles = [...new Set(changes.roles)]
    if (changes.disabled !== undefined) set.disabled = changes.disabled
    if (changes.password !== undefined) set.password_hash = await this.passwords.hash(changes.password)
    const revokesTokens = changes.password !== undefined || changes.disabled === true || changes.roles !== undefined
    const filter = { _id: userKey(tenant, username) }
    const update = revokesTokens ? { $set: set, $inc: { token_version: 1 } } : { $set: set }
    return await this.collection.findOneAndUpdate(filter, update, { returnDocument: 'after' })
  }

  async replaceHash (tenant: string, username: string, hash: string): Promise<void> {
    await this.collection.updateOne({ _id: userKey(tenant, username) }, { $set: { password_hash: hash, updated_at: new Date() } })
  }

  async delete (tenant: string, username: string): Promise<boolean> {
    const result = await this.collection.deleteOne({ _id: userKey(tenant, username) })
    return result.deletedCount === 1
  }

  /**
   * Users stored when usernames were global (`_id` the lower-cased name) move to their tenant's key, keeping
   * their incarnation, so their tokens stay good. Runs at startup; a crash midway leaves both copies, and
   * the next start deletes the old one.
   */
  async migrateToTenantKeys (): Promise<void> {
    for (const user of await this.collection.find({ _id: { $not: /^\[/ } }).toArray()) {
      const key = userKey(user.tenant, user.username)
      await insertUnique(this.collection, { ...user, _id: key })
      await this.collection.deleteOne({ _id: user._id })
    }
  }
}

export interface UserStoreOptions {
  /** At the configured cost (PASSWORD_HASH_*): the same one login-service checks and rehashes with. */
  passwords: PasswordHasher
}

async function userStorePlugin (fastify: FastifyInstance, options: UserStoreOptions) {
  const db = fastify.mongo.db
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (db === undefined) throw new Error('mongodb plugin has no database')
  const store = new UserStore(db, options.passwords)
  await store.ensureIndexes()
  await store.migrateToTenantKeys()
  await store.assignMissingIncarnations()
  fastify.decorate('userStore', store)
}

export default fp(userStorePlugin, { fastify: '5.x', name: 'user-store', dependencies: ['mongodb'] })
