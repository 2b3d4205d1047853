import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Collection, Db } from 'mongodb'
import type { ApiKeyRole } from '../../../schemas/api-key.js'
import { ensureIndexes } from '../storage/indexes.js'
import { insertIgnoringDuplicates, insertUnique } from '../storage/duplicate-key.js'
import { VersionedRecords } from '../storage/versioned-records.js'

declare module 'fastify' {
  interface FastifyInstance {
    apiKeyStore: ApiKeyStore
  }
}

/**
 * A key reads `alk_<id>_<secret>`: the prefix lets secret scanners (and people) recognise a leaked key; the id (12
 * random bytes, hex) finds its record by `_id`, without a scan of every key's hash; the secret is 32 random bytes,
 * base64url.
 */
export const API_KEY_PREFIX = 'alk_'
const KEY_PATTERN = /^alk_([0-9a-f]{24})_[A-Za-z0-9_-]{43}$/

/** The minute a key's use is recorded by: at most one write per key per replica per minute, never one per request. */
export const LAST_USED_GRANULE_MS = 60000

export interface StoredApiKey {
  /** The key's id, the part after the prefix. */
  _id: string
  tenant: string
  name: string
  roles: ApiKeyRole[]
  /**
   * SHA-256 of the whole key, hex. A fast hash is enough here, unlike for passwords: argon2's cost protects guessable
   * secrets from a stolen hash, and a 256-bit random secret cannot be guessed at any cost per guess. It also keeps the
   * check of every request cheap (a key is checked on each, a password only at login).
   */
  key_sha256: string
  created_at: Date
  created_by: string
  expires_at?: Date
  /** A view link's fixed filter (schemas/api-key.ts): its reads are confined to it (events/link-scope.ts). */
  scope?: { field: string, value: string }
}

/** One minute in which a key authenticated a request: insert-only (see ../storage/README.md), newest wins. */
interface UsageRecord {
  _id: string
  key: string
  tenant: string
  minute: number
}

/** That a key's expiry was recorded in its tenant's log: inserted once, by whichever replica saw it first. */
interface ExpiryRecord {
  _id: string
  tenant: string
  at: Date
}

/** The id of a string that has the form of a key, else undefined (a JWT, say). */
export function apiKeyId (token: string): string | undefined {
  return KEY_PATTERN.exec(token)?.[1]
}

export function hashApiKey (key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** Compares two hashes in constant time. */
export function sameHash (a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex')
  const right = Buffer.from(b, 'hex')
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right)
}

/** A fresh key and its id. */
export function newApiKey (): { id: string, key: string } {
  const id = randomBytes(12).toString('hex')
  return { id, key: `${API_KEY_PREFIX}${id}_${randomBytes(32).toString('base64url')}` }
}

/** The most minutes this replica remembers having recorded (one per key): a bound, not a cache that must hold all. */
const TOUCHED_MAX = 10000

export class ApiKeyStore {
  readonly keys: Collection<StoredApiKey>
  readonly usage: VersionedRecords<UsageRecord>
  readonly expiries: Collection<ExpiryRecord>
  /** The minute each key's use was last recorded from this replica. */
  private readonly touched = new Map<string, number>()
  private indexed: Promise<void> | undefined

  constructor (db: Db) {
    this.keys = db.collection<StoredApiKey>('api_keys')
    this.usage = new VersionedRecords(db.collection<UsageRecord>('api_key_usage'), ['minute'])
    this.expiries = db.collection<ExpiryRecord>('api_key_expiries')
  }

  /**
   * Made with the first key, not at startup (as webhooks' collections): on FerretDB 1.24 creating collections at every
   * boot slowed the event scans that followed.
   */
  private async ensureIndexes (): Promise<void> {
    await ensureIndexes(this.keys, [{ key: { tenant: 1, created_at: 1 }, name: 'tenant_created' }])
    await ensureIndexes(this.usage.collection, [{ key: { tenant: 1 }, name: 'tenant' }])
    await ensureIndexes(this.usage.collection, [{ key: { key: 1, minute: -1 }, name: 'key_minute' }])
  }

  async create (doc: StoredApiKey): Promise<void> {
    this.indexed ??= this.ensureIndexes().catch((err: unknown) => {
      this.indexed = undefined
      throw err
    })
    await this.indexed
    await this.keys.insertOne(doc)
  }

  /** A key by id: one small read by `_id` (the authorization cache makes it one per key per AUTH_CACHE_MS). */
  async find (id: string): Promise<StoredApiKey | null> {
    return await this.keys.findOne({ _id: id })
  }

  async list (tenant: string): Promise<StoredApiKey[]> {
    return await this.keys.find({ tenant }).sort({ created_at: 1, _id: 1 }).toArray()
  }

  /** How many keys the tenant holds (API_KEY_MAX_PER_TENANT bounds it). */
  async count (tenant: string): Promise<number> {
    return await this.keys.countDocuments({ tenant })
  }

  /** The key of this tenant deleted, with its records; null when the tenant has no such key. */
  async delete (tenant: string, id: string): Promise<StoredApiKey | null> {
    const doc = await this.keys.findOneAndDelete({ _id: id, tenant })
    if (doc === null) return null
    await this.usage.collection.deleteMany({ key: id })
    await this.expiries.deleteOne({ _id: id })
    return doc
  }

  /** When each of the tenant's keys was last used, to the minute. */
  async lastUsed (tenant: string): Promise<Map<string, Date>> {
    const newest = new Map<string, number>()
    for (const record of await this.usage.collection.find({ tenant }).toArray()) {
      newest.set(record.key, Math.max(newest.get(record.key) ?? 0, record.minute))
    }
    return new Map([...newest].map(([key, minute]) => [key, new Date(minute * LAST_USED_GRANULE_MS)]))
  }

  /**
   * Records that the key was used now, at most once a minute from this replica (replicas recording the same minute
   * write one record: the second insert is a duplicate), and prunes the older minutes behind it. A failure is
   * the caller's to log: the request it came with is not refused for it.
   */
  async touch (key: Pick<StoredApiKey, '_id' | 'tenant'>, now = Date.now()): Promise<void> {
    const minute = Math.floor(now / LAST_USED_GRANULE_MS)
    if ((this.touched.get(key._id) ?? -1) >= minute) return
    this.touched.delete(key._id)
    if (this.touched.size >= TOUCHED_MAX) this.touched.delete(this.touched.keys().next().value as string)
    this.touched.set(key._id, minute)
    await insertIgnoringDuplicates(this.usage.collection, [{ _id: `${key._id}:${minute}`, key: key._id, tenant: key.tenant, minute }])
    await this.usage.pruneBefore({ key: key._id }, { minute })
  }

  /** True for the one caller, on any replica, that is to record the key's expiry; `releaseExpiry` when that failed. */
  async claimExpiry (key: Pick<StoredApiKey, '_id' | 'tenant'>): Promise<boolean> {
    return await insertUnique(this.expiries, { _id: key._id, tenant: key.tenant, at: new Date() })
  }

  async releaseExpiry (id: string): Promise<void> {
    await this.expiries.deleteOne({ _id: id })
  }
}

async function apiKeyStorePlugin (fastify: FastifyInstance) {
  const db = fastify.mongo.db
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (db === undefined) throw new Error('mongodb plugin has no database')
  fastify.decorate('apiKeyStore', new ApiKeyStore(db))
}

export default fp(apiKeyStorePlugin, { fastify: '5.x', name: 'api-key-store', dependencies: ['mongodb'] })
