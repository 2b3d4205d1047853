import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiKeyLimitError, NotFoundError, ValidationFailedError } from '../../../errors.js'
import type { ApiKey, ApiKeyInput } from '../../../schemas/api-key.js'
import { runEvery } from '../storage/periodic.js'
import { requestOrigin, taskOrigin, type RequestOrigin } from '../../../http/request-origin.js'
import { OneAtATime } from '../storage/one-at-a-time.js'
import { API_KEY_PREFIX, hashApiKey, newApiKey, type StoredApiKey } from './api-key-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeys
  }
}

export interface ApiKeysOptions {
  /** API_KEY_MAX_PER_TENANT: keys one tenant may hold, expired ones included. */
  maxPerTenant: number
  /** How often each replica looks for keys that expired unused, to record their expiry (default a minute). */
  expiryCheckMs?: number
}

type Actor = { tenant: string, username: string }
/** An entry of the tenant's log, as the audit wing's recordAlways takes it. */
type AuditEntry = Parameters<FastifyInstance['auditTrail']['recordAlways']>[2]

/** Who records an expiry: the service, not a person. */
const SERVICE_ACTOR = 'system'

/**
 * An admin's side of API keys, and the tenant log's record of them: creating, revoking and expiring a key are
 * entries (`audit.admin.api_key_*`), written whatever AUDIT_ACCESS says, as every change of who may write is.
 */
export class ApiKeys {
  /** One creation at a time per tenant: two at once cannot both pass the cap on this replica. */
  private readonly creating = new OneAtATime()

  constructor (private readonly fastify: FastifyInstance, private readonly options: ApiKeysOptions) {}

  private get store () {
    return this.fastify.apiKeyStore
  }

  async create (request: FastifyRequest, input: ApiKeyInput): Promise<ApiKey & { key: string }> {
    const expiresAt = input.expires_at === undefined ? undefined : new Date(input.expires_at)
    if (expiresAt !== undefined && !(expiresAt.getTime() > Date.now())) throw new ValidationFailedError('body/expires_at must be in the future')
    // a view link is read-only: a scope with any other role would let it write, or read outside its scope
    if (input.scope !== undefined && (input.roles.length !== 1 || input.roles[0] !== 'reader')) {
      throw new ValidationFailedError('body/roles must be ["reader"] for a key with a scope (a view link is read-only)')
    }
    const tenant = request.principal.tenant
    return await this.creating.run(tenant, async () => await this.createUnderCap(request, input, expiresAt))
  }

  private async createUnderCap (
    request: FastifyRequest,
    input: ApiKeyInput,
    expiresAt: Date | undefined
  ): Promise<ApiKey & { key: string }> {
    const { tenant, username } = request.principal
    const existing = await this.store.count(tenant)
    if (existing >= this.options.maxPerTenant) throw new ApiKeyLimitError(existing)
    const { id, key } = newApiKey()
    const doc: StoredApiKey = {
      _id: id,
      tenant,
      name: input.name,
      roles: [...new Set(input.roles)],
      key_sha256: hashApiKey(key),
      created_at: new Date(),
      created_by: username
    }
    if (expiresAt !== undefined) doc.expires_at = expiresAt
    if (input.scope !== undefined) doc.scope = { field: input.scope.field, value: input.scope.value }
    await this.store.create(doc)
    try {
      await this.record(request.principal, request, {
        event_type: 'audit.admin.api_key_created',
        entitytype: 'api_key',
        description: `${username} created API key ${input.name} (${id}) with roles ${doc.roles.join(', ')}`,
        details: { api_key: id, name: input.name, roles: doc.roles, expires_at: expiresAt?.toISOString() ?? null, scope: doc.scope ?? null }
      })
    } catch (err) {
      // a key the log does not know of must not work: it is taken back before the failure is answered
      await this.store.delete(tenant, id)
      throw err
    }
    return { ...toPublicApiKey(doc, undefined), key }
  }

  async list (request: FastifyRequest): Promise<{ items: ApiKey[] }> {
    const tenant = request.principal.tenant
    const [docs, lastUsed] = await Promise.all([this.store.list(tenant), this.store.lastUsed(tenant)])
    return { items: docs.map((doc) => toPublicApiKey(doc, lastUsed.get(doc._id))) }
  }

  /**
   * Deletes the key first, then records it: a revocation the log failed to record still revokes (the answer is then
   * an error, and a retry a 404). Every replica refuses the key within AUTH_CACHE_MS.
   */
  async revoke (request: FastifyRequest, id: string): Promise<void> {
    const { tenant, username } = request.principal
    // another tenant's key is exactly as absent as a missing one
    const doc = await this.store.delete(tenant, id)
    if (doc === null) throw new NotFoundError('API key')
    await this.record(request.principal, request, {
      event_type: 'audit.admin.api_key_revoked',
      entitytype: 'api_key',
      description: `${username} revoked API key ${doc.name} (${id})`,
      details: { api_key: id, name: doc.name }
    })
  }

  /**
   * Records, once across replicas, that the key is past its expiry: the replica whose claim is inserted first writes
   * the entry, and gives the claim back if it could not, so that the next refusal or check tries again.
   */
  async recordExpiry (doc: StoredApiKey, origin: RequestOrigin): Promise<void> {
    if (!(await this.store.claimExpiry(doc))) return
    try {
      await this.write({ tenant: doc.tenant, username: SERVICE_ACTOR }, origin, {
        event_type: 'audit.admin.api_key_expired',
        entitytype: 'api_key',
        description: `API key ${doc.name} (${doc._id}) expired at ${doc.expires_at?.toISOString() ?? 'an unknown time'}`,
        details: { api_key: doc._id, name: doc.name, expires_at: doc.expires_at?.toISOString() ?? null }
      })
    } catch (err) {
      await this.store.releaseExpiry(doc._id)
      throw err
    }
  }

  /** The keys of every tenant past their expiry and not yet recorded so: two small reads, on each replica every minute. */
  async recordExpiries (now = new Date()): Promise<void> {
    const expired = await this.store.keys.find({ expires_at: { $lte: now } }).toArray()
    if (expired.length === 0) return
    const recorded = new Set((await this.store.expiries.find({}, { projection: { _id: 1 } }).toArray()).map((record) => record._id))
    for (const doc of expired) {
      if (!recorded.has(doc._id)) await this.recordExpiry(doc, taskOrigin('api key expiry check'))
    }
  }

  private async record (actor: Actor, request: FastifyRequest, entry: AuditEntry): Promise<void> {
    await this.write(actor, requestOrigin(request), entry)
  }

  private async write (actor: Actor, origin: RequestOrigin, entry: AuditEntry): Promise<void> {
    // the audit wing's decorator, read when a key changes (it is registered after this plugin, and access
    // imports nothing of audit: audit stands on events, which stand on access)
    await this.fastify.auditTrail.recordAlways(actor, origin, entry)
  }
}

export function toPublicApiKey (doc: StoredApiKey, lastUsed: Date | undefined, now = Date.now()): ApiKey {
  const key: ApiKey = {
    id: doc._id,
    name: doc.name,
    roles: doc.roles,
    prefix: `${API_KEY_PREFIX}${doc._id}`,
    created_at: doc.created_at.toISOString(),
    created_by: doc.created_by,
    expired: doc.expires_at !== undefined && doc.expires_at.getTime() <= now
  }
  if (doc.expires_at !== undefined) key.expires_at = doc.expires_at.toISOString()
  if (lastUsed !== undefined) key.last_used_at = lastUsed.toISOString()
  if (doc.scope !== undefined) key.scope = doc.scope as ApiKey['scope']
  return key
}

async function apiKeysPlugin (fastify: FastifyInstance, options: ApiKeysOptions) {
  const keys = new ApiKeys(fastify, options)
  fastify.decorate('apiKeys', keys)
  // a key that expires unused is recorded too, within a minute or so, by whichever replica looks first
  const stop = runEvery(() => options.expiryCheckMs ?? 60000, async () => await keys.recordExpiries(), fastify.log, 'API key expiry check failed')
  fastify.addHook('onClose', async () => await stop())
}

export default fp(apiKeysPlugin, { fastify: '5.x', name: 'api-keys', dependencies: ['api-key-store', 'event-writer'] })
