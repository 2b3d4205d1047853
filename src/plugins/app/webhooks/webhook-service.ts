import fp from 'fastify-plugin'
import { ObjectId } from 'mongodb'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { NotFoundError, WebhookLimitError, WebhookUrlRefusedError } from '../../../errors.js'
import type { WebhookInput, Webhook, WebhookChanges } from '../../../schemas/webhook.js'
import { newSecret } from './signature.js'
import type { ProgressRecord, StoredSubscription } from './subscription-store.js'
import { webhookChanged } from './webhook-audit.js'
import { recordEntry, type AuditEntry } from '../audit/audit-trail.js'
import { requestOrigin } from '../../../http/request-origin.js'
import { OneAtATime } from '../storage/one-at-a-time.js'

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: WebhookService
  }
}

export interface WebhookServiceOptions {
  /** Subscriptions one tenant may have: each one is a worker that reads the event log (WEBHOOK_MAX_PER_TENANT). */
  maxPerTenant: number
}

/** The admin's side of webhooks: subscriptions of the caller's tenant, each change audited. */
export class WebhookService {
  /** One creation at a time per tenant: two at once cannot both pass the cap on this replica. */
  private readonly creating = new OneAtATime()

  constructor (private readonly fastify: FastifyInstance, private readonly options: WebhookServiceOptions) {}

  private get store () {
    return this.fastify.webhookDispatcher.store
  }

  async create (request: FastifyRequest, input: WebhookInput): Promise<Webhook & { secret: string }> {
    const tenant = request.principal.tenant
    const url = await this.checkedUrl(input.url)
    // one creation at a time per tenant, so the count below is not read by two at once; replicas each
    // serialize their own, so the cap can be passed by at most one per further replica creating at that moment
    return await this.creating.run(tenant, async () => await this.createUnderCap(request, tenant, url, input))
  }

  private async createUnderCap (
    request: FastifyRequest,
    tenant: string,
    url: string,
    input: WebhookInput
  ): Promise<Webhook & { secret: string }> {
    const existing = await this.store.count(tenant)
    if (existing >= this.options.maxPerTenant) throw new WebhookLimitError(existing)
    const now = new Date()
    const doc: StoredSubscription = {
      _id: new ObjectId(),
      tenant,
      url,
      filter: input.filter ?? {},
      secret: newSecret(),
      created_at: now,
      updated_at: now
    }
    if (input.description !== undefined) doc.description = input.description
    const startAfter = input.start_after_seq ?? await this.fastify.sequencer.settledThrough(tenant)
    await this.record(request, webhookChanged(request.principal.username, 'created', doc._id.toHexString(), {
      url,
      filter: doc.filter,
      start_after_seq: startAfter
    }))
    const progress = await this.store.create(doc, startAfter)
    this.nudge()
    return { ...toPublicWebhook(doc, progress), secret: doc.secret }
  }

  async list (request: FastifyRequest): Promise<{ items: Webhook[] }> {
    const docs = await this.store.list(request.principal.tenant)
    return { items: await Promise.all(docs.map(async (doc) => toPublicWebhook(doc, await this.store.current(doc._id.toHexString())))) }
  }

  async get (request: FastifyRequest, id: string): Promise<Webhook> {
    const doc = await this.owned(request, id)
    return toPublicWebhook(doc, await this.store.current(id))
  }

  async update (request: FastifyRequest, id: string, changes: WebhookChanges): Promise<Webhook> {
    const doc = await this.owned(request, id)
    const { state, resume_after_seq: resumeAfter, url, ...rest } = changes
    const edits = { ...rest, ...(url !== undefined ? { url: await this.checkedUrl(url) } : {}) }
    await this.record(request, webhookChanged(request.principal.username, 'updated', id, { changes }))
    if (Object.keys(edits).length > 0) await this.store.update(doc.tenant, id, edits)
    let restarted: ProgressRecord | undefined
    // any change starts a new epoch of the progress: the delivering worker reads the subscription again
    if (state !== undefined || resumeAfter !== undefined || Object.keys(edits).length > 0) {
      const current = await this.store.current(id)
      restarted = await this.store.restart(id, { state: state ?? current?.state ?? 'active', through: resumeAfter })
    }
    // the answer is the change itself, taken before a worker is woken to deliver from it
    const answer = toPublicWebhook(await this.owned(request, id), restarted ?? await this.store.current(id))
    this.nudge()
    return answer
  }

  async delete (request: FastifyRequest, id: string): Promise<void> {
    await this.owned(request, id)
    await this.record(request, webhookChanged(request.principal.username, 'deleted', id, {}))
    if (!await this.store.delete(request.principal.tenant, id)) throw new NotFoundError('Webhook')
  }

  /** Writes the change's entry before it applies, whatever AUDIT_ACCESS says: a failure is a 503 and changes nothing. */
  private async record (request: FastifyRequest, entry: AuditEntry): Promise<void> {
    await recordEntry(this.fastify.eventWriter, request.principal, requestOrigin(request), entry)
  }

  /** Another tenant's subscription is exactly as absent as a missing one. */
  private async owned (request: FastifyRequest, id: string): Promise<StoredSubscription> {
    const doc = await this.store.get(request.principal.tenant, id)
    if (doc === null) throw new NotFoundError('Webhook')
    return doc
  }

  private async checkedUrl (raw: string): Promise<string> {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new WebhookUrlRefusedError('body/url must be an absolute URL')
    }
    const policy = this.fastify.webhookDispatcher.policy
    // the name is checked now for a clear answer, and the address again at every connection (DNS rebinding)
    const refusal = policy.refusal(url) ?? await policy.resolveRefusal(url)
    if (refusal !== undefined) throw new WebhookUrlRefusedError(`body/url refused: ${refusal}`)
    return url.toString()
  }

  private nudge (): void {
    this.fastify.webhookDispatcher.scan().catch((err: unknown) => this.fastify.log.warn({ err }, 'webhook scan failed'))
  }
}

export function toPublicWebhook (doc: StoredSubscription, progress: ProgressRecord | null): Webhook {
  const webhook: Webhook = {
    id: doc._id.toHexString(),
    url: doc.url,
    filter: doc.filter,
    state: progress?.state ?? 'active',
    last_delivered_seq: progress?.through ?? 0,
    failures: progress?.failures ?? 0,
    last_error:
      progress?.last_error === undefined ? null : { message: progress.last_error.message, at: progress.last_error.at.toISOString() },
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString()
  }
  if (doc.description !== undefined) webhook.description = doc.description
  return webhook
}

async function webhookServicePlugin (fastify: FastifyInstance, options: WebhookServiceOptions) {
  fastify.decorate('webhooks', new WebhookService(fastify, options))
}

export default fp(webhookServicePlugin, {
  fastify: '5.x',
  name: 'webhook-service',
  dependencies: ['webhook-dispatcher', 'event-writer', 'sequencer']
})
