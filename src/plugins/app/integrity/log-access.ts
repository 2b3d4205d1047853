import fp from 'fastify-plugin'
import type { Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { Counter } from 'prom-client'
import { VersionedRecords } from '../storage/versioned-records.js'
import { FreshRecords } from '../storage/fresh-records.js'
import { recordEntry, type Actor } from '../audit/audit-trail.js'
import type { RequestOrigin } from '../../../http/request-origin.js'

declare module 'fastify' {
  interface FastifyInstance {
    logAccess: LogAccess
  }
}

interface LogAccessDoc {
  _id: string
  tenant: string
  version: number
  public: boolean
  updated_at: Date
  updated_by: string
}

export interface LogAccessSetting {
  public: boolean
  updated_at?: Date
  updated_by?: string
}

/**
 * Who may read a tenant's checkpoints and hash tiles (`/logs/{tenant}/...`, C2SP tlog-tiles): its readers and
 * monitors always; anyone, once an admin made the log public. Hash tiles reveal no content and a checkpoint
 * only the log's size, so a tenant may choose to let witnesses and monitors follow it without a credential.
 *
 * Each change is a version of its own (newest wins, FerretDB: storage/versioned-records.ts), and the route
 * that makes it writes the log entry first. Every replica trusts what it read for CACHE_MS: a log made
 * private again is closed to anonymous readers everywhere within it.
 *
 * These reads add nothing to the log (a poller would make it grow forever): they are counted in
 * `auditlog_monitor_reads_total{route}` instead.
 */
export class LogAccess {
  static readonly CACHE_MS = 1000
  readonly records: VersionedRecords<LogAccessDoc>
  readonly reads: Counter<'route'>
  /** Tenants whose setting is kept: one entry each, a few hundred bytes. */
  static readonly TENANTS_CACHED = 10_000
  private readonly cache = new FreshRecords<LogAccessSetting>(LogAccess.CACHE_MS, LogAccess.TENANTS_CACHED)

  constructor (db: Db, private readonly fastify: FastifyInstance) {
    this.records = new VersionedRecords(db.collection<LogAccessDoc>('log_access'), ['version'])
    this.reads = new Counter({
      name: 'auditlog_monitor_reads_total',
      help: 'Reads of checkpoints and tiles (JSON and C2SP), which are not recorded in the log, by route',
      labelNames: ['route'],
      registers: [fastify.metrics.registry]
    })
  }

  async ensureIndexes (): Promise<void> {
    await this.records.collection.createIndex({ tenant: 1, version: -1 }, { name: 'tenant_version' })
  }

  async setting (tenant: string): Promise<LogAccessSetting> {
    // a tenant without a record has the default: the read answers null for it
    const setting = await this.cache.get(tenant, async () => {
      const doc = await this.records.newest({ tenant })
      return doc === undefined ? null : { public: doc.public, updated_at: doc.updated_at, updated_by: doc.updated_by }
    })
    return setting ?? { public: false }
  }

  async isPublic (tenant: string): Promise<boolean> {
    return (await this.setting(tenant)).public
  }

  /**
   * An admin's choice: its entry in the tenant's log first, whatever AUDIT_ACCESS says (a failure is a 503 and
   * changes nothing), then the setting.
   */
  async change (actor: Actor, origin: RequestOrigin, isPublic: boolean): Promise<void> {
    const previous = await this.isPublic(actor.tenant)
    await recordEntry(this.fastify.eventWriter, actor, origin, {
      event_type: 'audit.admin.log_access_changed',
      entitytype: 'integrity',
      description: `${actor.username} made the log's checkpoints and tiles ${isPublic ? 'public' : 'readable by its readers and monitors only'}`,
      details: { public: isPublic, previous_public: previous, origin: this.fastify.checkpoints.originOf(actor.tenant) }
    })
    await this.set(actor.tenant, isPublic, actor.username)
  }

  /** Records the tenant's choice (after its log entry was written). Two admins at once: the later version wins. */
  async set (tenant: string, isPublic: boolean, by: string): Promise<LogAccessSetting> {
    for (;;) {
      const newest = await this.records.newest({ tenant })
      const version = (newest?.version ?? 0) + 1
      const doc: LogAccessDoc = { _id: `${tenant}:${version}`, tenant, version, public: isPublic, updated_at: new Date(), updated_by: by }
      if (await this.records.append(doc)) {
        await this.records.pruneBefore({ tenant }, { version })
        this.cache.forget(tenant)
        return { public: isPublic, updated_at: doc.updated_at, updated_by: by }
      }
    }
  }

  /** A read of a checkpoint or tile, counted instead of recorded. */
  count (route: string): void {
    this.reads.inc({ route })
  }
}

async function logAccessPlugin (fastify: FastifyInstance) {
  const db = fastify.mongo.db
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (db === undefined) throw new Error('mongodb plugin has no database')
  const access = new LogAccess(db, fastify)
  await access.ensureIndexes()
  fastify.decorate('logAccess', access)
}

export default fp(logAccessPlugin, { fastify: '5.x', name: 'log-access', dependencies: ['metrics'] })
