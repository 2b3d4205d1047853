import type { Collection, Db, Document } from 'mongodb'
import { insertUnique } from '../storage/duplicate-key.js'
import { VersionedRecords } from '../storage/versioned-records.js'

/**
 * The registry's two collections, both insert-only (storage/versioned-records.ts says why):
 * - `event_type_versions`: every version of every type, kept and never edited. The schema and the example are
 *   stored as JSON text: a schema's keys (`$ref`, `$defs`) cannot be field names of a stored document.
 * - `event_type_heads`: per tenant, which version of each type is current, and strict mode. One small record per
 *   change (`_id` = tenant and generation), the newest wins, older ones pruned. This is what ingest reads (once per
 *   tenant per EVENT_TYPE_CACHE_MS on each replica): a few hundred bytes per type, never the schemas, which are
 *   read by key once per version and replica and then kept compiled (versions never change).
 */
export interface EventTypeVersionDoc {
  _id: string
  tenant: string
  event_type: string
  version: number
  schema_json: string
  description: string
  example_json?: string
  deprecated: boolean
  created_at: Date
  created_by: string
}

/** One type in a head: its current version and the seq of the log entry that made it current. */
export interface HeadEntry { t: string, v: number, seq?: number }

export interface EventTypeHeadDoc {
  _id: string
  tenant: string
  gen: number
  strict: boolean
  /** As a list: a type's name may hold a `.` or start with `$`, which a stored key may not. */
  types: HeadEntry[]
  updated_at: Date
}

/** An empty registry: what a tenant that never registered a type has. */
export const NO_HEAD: Omit<EventTypeHeadDoc, '_id' | 'tenant' | 'updated_at'> = { gen: 0, strict: false, types: [] }

function key (...parts: Array<string | number>): string {
  return parts.map((part) => encodeURIComponent(String(part))).join('/')
}

export class EventTypeStore {
  readonly versions: Collection<EventTypeVersionDoc>
  readonly heads: VersionedRecords<EventTypeHeadDoc>

  constructor (db: Db) {
    this.versions = db.collection<EventTypeVersionDoc>('event_type_versions')
    this.heads = new VersionedRecords(db.collection<EventTypeHeadDoc>('event_type_heads'), ['gen'])
  }

  /** The tenant's newest head, or undefined when it never registered anything. */
  async head (tenant: string): Promise<EventTypeHeadDoc | undefined> {
    return await this.heads.newest({ tenant })
  }

  /** Records the next head: false when another change took that generation first (read the head again). */
  async appendHead (head: Omit<EventTypeHeadDoc, '_id'>): Promise<boolean> {
    const written = await this.heads.append({ _id: key(head.tenant, head.gen), ...head })
    if (written) await this.heads.pruneBefore({ tenant: head.tenant }, { gen: head.gen })
    return written
  }

  /** One version, by key. */
  async version (tenant: string, eventType: string, version: number): Promise<EventTypeVersionDoc | null> {
    return await this.versions.findOne({ _id: key(tenant, eventType, version) })
  }

  /** Several versions of one tenant, by key, in one read; `withSchema: false` leaves the schema and example out. */
  async versionsOf (tenant: string, entries: HeadEntry[], withSchema: boolean): Promise<EventTypeVersionDoc[]> {
    return await this.byKeys(tenant, entries, withSchema ? {} : { schema_json: 0, example_json: 0 })
  }

  /** The description and example of several versions of one tenant, by key, in one read (Swagger UI's examples). */
  async examplesOf (tenant: string, entries: HeadEntry[]): Promise<Array<Pick<EventTypeVersionDoc, 'event_type' | 'description' | 'example_json' | 'deprecated'>>> {
    return await this.byKeys(tenant, entries, { _id: 0, event_type: 1, description: 1, example_json: 1, deprecated: 1 })
  }

  /** Versions of one tenant by their keys, in one read, with `projection`'s fields. */
  private async byKeys (tenant: string, entries: HeadEntry[], projection: Document): Promise<EventTypeVersionDoc[]> {
    if (entries.length === 0) return []
    return await this.versions.find({ _id: { $in: entries.map((entry) => key(tenant, entry.t, entry.v)) } }, { projection }).toArray()
  }

  /** Claims a version number: false when another change made that version first. */
  async addVersion (doc: Omit<EventTypeVersionDoc, '_id'>): Promise<boolean> {
    return await insertUnique(this.versions, { _id: key(doc.tenant, doc.event_type, doc.version), ...doc })
  }

  /** Gives back a claimed version whose log entry could not be written: a version the log does not know of must not stay. */
  async dropVersion (tenant: string, eventType: string, version: number): Promise<void> {
    await this.versions.deleteOne({ _id: key(tenant, eventType, version) })
  }
}
