import fp from 'fastify-plugin'
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { ValidateFunction } from 'ajv'
import type { EventInput } from '../../../schemas/event.js'
import type { EventType, EventTypeInput } from '../../../schemas/event-type.js'
import { ConflictError, EventTypeLimitError, NotFoundError, ValidationFailedError } from '../../../errors.js'
import { OneAtATime } from '../storage/one-at-a-time.js'
import { recordEntry, type Actor, type AuditEntry } from '../audit/audit-trail.js'
import type { RequestOrigin } from '../../../http/request-origin.js'
import { EventTypeStore, NO_HEAD, type EventTypeHeadDoc, type EventTypeVersionDoc, type HeadEntry } from './registry-store.js'
import { describeFailure, SchemaRefused, TenantSchemaCompiler } from './schema-compiler.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventTypes: EventTypeRegistry
  }
}

export interface EventTypeRegistryOptions {
  /** EVENT_TYPE_CACHE_MS: how long a replica trusts the registry it read; a change applies everywhere within it. */
  cacheMs: number
  /** EVENT_TYPE_MAX_PER_TENANT: types one tenant may register. */
  maxTypes: number
}

/** What ingest learns of a request's events: per event, the version it passed, or why it is refused. */
export interface Verdicts {
  versions: Array<number | undefined>
  errors: Array<string | undefined>
}

/** A type's example, with its name and description. */
export interface TypeExample { event_type: string, description: string, example: Record<string, unknown> }

interface HeadView { gen: number, strict: boolean, types: Map<string, HeadEntry> }

/** Compiled validators kept per replica: versions never change, so one is compiled once and kept until evicted. */
const VALIDATORS_MAX = 5000
/** Tenants whose registry a replica keeps at once. */
const HEADS_MAX = 10000
/** Version numbers tried, one after another, when the next is taken. */
const VERSION_ATTEMPTS = 5
/** Tries at recording a new head when other changes of the tenant's registry keep taking the generation. */
const HEAD_ATTEMPTS = 5

/**
 * The per-tenant registry of event types: admins register a JSON Schema per type (a new version per change, every
 * change an entry of the tenant's log), and ingest validates each event's details against its type's current
 * version. On the write path it costs a map lookup per event when the tenant has no types, and the compiled
 * validator's run when it has: the registry's head is read once per tenant per `cacheMs`, and each version's schema
 * once per replica (docs/event-types.md).
 */
export class EventTypeRegistry {
  readonly store: EventTypeStore
  private readonly heads = new Map<string, { fetchedAt: number, view: Promise<HeadView> }>()
  private readonly validators = new Map<string, Promise<ValidateFunction>>()
  private readonly compiler = new TenantSchemaCompiler()
  /** One change at a time per tenant on this replica: two at once would only make each other retry. */
  private readonly changing = new OneAtATime()

  constructor (private readonly fastify: FastifyInstance, private readonly options: EventTypeRegistryOptions) {
    this.store = new EventTypeStore(fastify.mongo.db as NonNullable<typeof fastify.mongo.db>)
  }

  /**
   * Checks a request's events against their types. `fieldOf(i)` is where event i is in the request (`body`,
   * `body/events/3`). An event of an unregistered type passes without a version unless the tenant is strict.
   */
  async check (tenant: string, events: EventInput[], fieldOf: (index: number) => string): Promise<Verdicts> {
    const head = await this.head(tenant)
    const versions: Array<number | undefined> = new Array(events.length)
    const errors: Array<string | undefined> = new Array(events.length)
    if (head.types.size === 0 && !head.strict) return { versions, errors }
    for (const [i, event] of events.entries()) {
      const entry = head.types.get(event.event_type)
      if (entry === undefined) {
        if (head.strict) {
          errors[i] = `${fieldOf(i)}/event_type '${event.event_type}' is not a registered event type, and your tenant refuses unregistered types (strict mode)`
        }
        continue
      }
      const validate = await this.validator(tenant, entry)
      // an event without details is checked as {}: a schema with required properties refuses it
      if (validate(event.event_specificdetails ?? {})) versions[i] = entry.v
      else errors[i] = describeFailure(`${fieldOf(i)}/event_specificdetails`, validate.errors, event.event_type, entry.v)
    }
    return { versions, errors }
  }

  /** The tenant's types, by name, with strict mode: one read of the head and one of the current versions (without schemas). */
  async list (tenant: string): Promise<{ items: Array<Omit<EventType, 'schema' | 'example' | 'created_by' | 'log_seq'>>, strict: boolean }> {
    const head = await this.freshHead(tenant)
    const docs = await this.store.versionsOf(tenant, [...head.types.values()], false)
    const items = docs
      .map((doc) => ({
        event_type: doc.event_type,
        version: doc.version,
        description: doc.description,
        deprecated: doc.deprecated,
        created_at: doc.created_at.toISOString()
      }))
      .sort((a, b) => (a.event_type < b.event_type ? -1 : a.event_type > b.event_type ? 1 : 0))
    return { items, strict: head.strict }
  }

  /**
   * Up to `max` of the tenant's types that have an example and are not deprecated, by name, with their description
   * and example: for Swagger UI's examples of POST /events (event-types/swagger-examples.ts). The head as ingest
   * trusts it (cached), then one read by key of those versions, without their schemas.
   */
  async examples (tenant: string, max: number): Promise<TypeExample[]> {
    const head = await this.head(tenant)
    const docs = await this.store.examplesOf(tenant, [...head.types.values()])
    return docs
      .filter((doc) => doc.example_json !== undefined && !doc.deprecated)
      .sort((a, b) => (a.event_type < b.event_type ? -1 : a.event_type > b.event_type ? 1 : 0))
      .slice(0, max)
      .map((doc) => ({ event_type: doc.event_type, description: doc.description, example: JSON.parse(doc.example_json as string) as TypeExample['example'] }))
  }

  /** The current version of a type, or 404. */
  async current (tenant: string, eventType: string): Promise<EventType> {
    const entry = (await this.freshHead(tenant)).types.get(eventType)
    const doc = entry === undefined ? null : await this.store.version(tenant, eventType, entry.v)
    if (entry === undefined || doc === null) throw new NotFoundError('Event type')
    return toEventType(doc, entry.seq)
  }

  /** One version of a type, current or not, or 404. */
  async version (tenant: string, eventType: string, version: number): Promise<EventType> {
    const doc = await this.store.version(tenant, eventType, version)
    if (doc === null) throw new NotFoundError('Event type version')
    const entry = (await this.freshHead(tenant)).types.get(eventType)
    return toEventType(doc, entry?.v === version ? entry.seq : undefined)
  }

  async strict (tenant: string): Promise<boolean> {
    return (await this.freshHead(tenant)).strict
  }

  /**
   * Makes the next version of a type, unless the input says what the current version says (then that version is
   * the answer, and nothing is recorded: a retried PUT changes nothing). Refused with a 400 naming the part: a
   * hostile or invalid schema, an example the schema refuses (the given one, or the previous version's when none
   * is given). The log entry is written before the version becomes current.
   */
  async put (
    actor: Actor,
    origin: RequestOrigin,
    eventType: string,
    input: EventTypeInput
  ): Promise<{ type: EventType, created: boolean }> {
    return await this.changing.run(actor.tenant, async () => {
      const head = await this.freshHead(actor.tenant)
      const entry = head.types.get(eventType)
      const previous = entry === undefined ? null : await this.store.version(actor.tenant, eventType, entry.v)
      const validate = this.compileInput(input.schema)
      const exampleJson = input.example !== undefined ? JSON.stringify(input.example) : previous?.example_json
      if (exampleJson !== undefined && !validate(JSON.parse(exampleJson))) {
        const where = input.example !== undefined ? 'body/example' : "body/schema refuses the previous version's example: example"
        throw new ValidationFailedError(describeFailure(where, validate.errors, eventType, (entry?.v ?? 0) + 1))
      }
      const doc: Omit<EventTypeVersionDoc, '_id'> = {
        tenant: actor.tenant,
        event_type: eventType,
        version: (entry?.v ?? 0) + 1,
        schema_json: JSON.stringify(input.schema),
        description: input.description,
        ...(exampleJson === undefined ? {} : { example_json: exampleJson }),
        deprecated: input.deprecated ?? false,
        created_at: new Date(),
        created_by: actor.username
      }
      if (previous !== null && entry !== undefined && sameContent(previous, doc)) {
        return { type: toEventType(previous, entry.seq), created: false }
      }
      if (entry === undefined && head.types.size >= this.options.maxTypes) throw new EventTypeLimitError(head.types.size)
      // the number is taken when another replica is making the same version now, or a change died before it became
      // current (its log entry unwritten): the next free number then, and the higher of two racing versions stays current
      let claimed = await this.store.addVersion(doc)
      for (let attempt = 1; !claimed && attempt < VERSION_ATTEMPTS; attempt++) {
        doc.version++
        claimed = await this.store.addVersion(doc)
      }
      if (!claimed) throw new ConflictError(`event type ${eventType} was changed at the same time by other requests; read it and retry`)
      let seq: number
      try {
        seq = await this.record(actor, origin, changedEntry(actor.username, doc, entry?.v))
      } catch (err) {
        // a version the log does not hold must not stay
        await this.store.dropVersion(actor.tenant, eventType, doc.version)
        throw err
      }
      await this.advanceHead(actor.tenant, (types) => {
        const current = types.get(eventType)
        if (current === undefined || current.v < doc.version) types.set(eventType, { t: eventType, v: doc.version, seq })
      })
      return { type: toEventType({ _id: '', ...doc }, seq), created: true }
    })
  }

  /** Sets strict mode: an entry of the log, then the head. Setting what is already set records nothing. */
  async setStrict (actor: Actor, origin: RequestOrigin, strict: boolean): Promise<boolean> {
    return await this.changing.run(actor.tenant, async () => {
      const head = await this.freshHead(actor.tenant)
      if (head.strict === strict) return strict
      await this.record(actor, origin, {
        event_type: 'audit.admin.event_type_policy_changed',
        entitytype: 'event_type',
        description: `${actor.username} ${strict ? 'refused' : 'allowed'} events of unregistered types (strict mode ${strict ? 'on' : 'off'})`,
        details: { strict }
      })
      await this.advanceHead(actor.tenant, () => undefined, strict)
      return strict
    })
  }

  /** The tenant's registry as this replica trusts it: read again once `cacheMs` old. */
  private async head (tenant: string): Promise<HeadView> {
    const hit = this.heads.get(tenant)
    if (hit !== undefined && Date.now() - hit.fetchedAt < this.options.cacheMs) return await hit.view
    // stamped when the read starts: a read racing a change is not trusted past the bound
    const fetchedAt = Date.now()
    const view = this.store.head(tenant).then(toView)
    this.heads.delete(tenant)
    if (this.heads.size >= HEADS_MAX) this.heads.delete(this.heads.keys().next().value as string)
    this.heads.set(tenant, { fetchedAt, view })
    try {
      return await view
    } catch (err) {
      if (this.heads.get(tenant)?.view === view) this.heads.delete(tenant)
      throw err
    }
  }

  /** The head read now, for admins' reads and changes; it refreshes the cache too. */
  private async freshHead (tenant: string): Promise<HeadView> {
    this.heads.delete(tenant)
    return await this.head(tenant)
  }

  private async validator (tenant: string, entry: HeadEntry): Promise<ValidateFunction> {
    const key = `${tenant}\0${entry.t}\0${entry.v}`
    let validator = this.validators.get(key)
    if (validator === undefined) {
      validator = this.store.version(tenant, entry.t, entry.v).then((doc) => {
        if (doc === null) throw new Error(`event type ${entry.t} v${entry.v} is named by the registry's head but not stored`)
        return this.compiler.compile(JSON.parse(doc.schema_json))
      })
      if (this.validators.size >= VALIDATORS_MAX) this.validators.delete(this.validators.keys().next().value as string)
      this.validators.set(key, validator)
      validator.catch(() => this.validators.delete(key))
    }
    return await validator
  }

  private compileInput (schema: unknown): ValidateFunction {
    try {
      return this.compiler.compile(schema)
    } catch (err) {
      if (err instanceof SchemaRefused) throw new ValidationFailedError(`body/${err.message}`)
      throw err
    }
  }

  /**
   * Records the next head with `change` applied, re-reading the head when another change (on another replica) took
   * the generation first; this replica's cache is dropped, the others' expire within `cacheMs`.
   */
  private async advanceHead (tenant: string, change: (types: Map<string, HeadEntry>) => void, strict?: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const head = attempt === 1 ? await this.head(tenant) : await this.freshHead(tenant)
      const types = new Map(head.types)
      change(types)
      const written = await this.store.appendHead({
        tenant,
        gen: head.gen + 1,
        strict: strict ?? head.strict,
        types: [...types.values()],
        updated_at: new Date()
      })
      this.heads.delete(tenant)
      if (written) return
      if (attempt >= HEAD_ATTEMPTS) throw new ConflictError('the event type registry was changed at the same time by other requests; retry')
    }
  }

  /** Writes the entry through the one write path and answers its seq, or throws 503: nothing changes unrecorded. */
  private async record (actor: Actor, origin: RequestOrigin, entry: AuditEntry): Promise<number> {
    return await recordEntry(this.fastify.eventWriter, actor, origin, entry)
  }
}

function toView (doc: EventTypeHeadDoc | undefined): HeadView {
  const head = doc ?? NO_HEAD
  return { gen: head.gen, strict: head.strict, types: new Map(head.types.map((entry) => [entry.t, entry])) }
}

function sameContent (stored: Omit<EventTypeVersionDoc, '_id'>, next: Omit<EventTypeVersionDoc, '_id'>): boolean {
  return stored.schema_json === next.schema_json &&
    stored.description === next.description &&
    stored.example_json === next.example_json &&
    stored.deprecated === next.deprecated
}

function changedEntry (by: string, doc: Omit<EventTypeVersionDoc, '_id'>, previous: number | undefined): AuditEntry {
  return {
    event_type: 'audit.admin.event_type_changed',
    entitytype: 'event_type',
    description: `${by} ${previous === undefined ? 'registered' : 'changed'} event type ${doc.event_type} (version ${doc.version})` +
      (doc.deprecated ? ', deprecated' : ''),
    // the schema itself cannot be details (its keys start with $): its digest names it, GET .../versions/{v} shows it
    details: {
      event_type: doc.event_type,
      version: doc.version,
      previous_version: previous ?? null,
      deprecated: doc.deprecated,
      schema_sha256: createHash('sha256').update(doc.schema_json).digest('hex')
    }
  }
}

export function toEventType (doc: EventTypeVersionDoc, seq?: number): EventType {
  const type: EventType = {
    event_type: doc.event_type,
    version: doc.version,
    description: doc.description,
    schema: JSON.parse(doc.schema_json) as Record<string, unknown>,
    deprecated: doc.deprecated,
    created_at: doc.created_at.toISOString(),
    created_by: doc.created_by
  }
  if (doc.example_json !== undefined) type.example = JSON.parse(doc.example_json) as Record<string, unknown>
  if (seq !== undefined) type.log_seq = seq
  return type
}

async function eventTypeRegistryPlugin (fastify: FastifyInstance, options: EventTypeRegistryOptions) {
  fastify.decorate('eventTypes', new EventTypeRegistry(fastify, options))
}

export default fp(eventTypeRegistryPlugin, { fastify: '5.x', name: 'event-type-registry', dependencies: ['event-writer'] })
