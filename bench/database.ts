import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient, type Db, type WriteConcernSettings } from 'mongodb'
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../src/embedded/ferretdb.js'
import { EVENT_INDEXES } from '../src/plugins/app/events/event-store.js'
import type { StoredEvent } from '../src/plugins/app/events/record.js'
import { ensureIndexes } from '../src/plugins/app/storage/indexes.js'
import { UserStore } from '../src/plugins/app/access/user-store.js'
import type { Role } from '../src/schemas/roles.js'

/**
 * The database every benchmark talks to: a FerretDB started for this run in a temporary directory, or
 * the server in BENCH_MONGODB_URL (to compare with a real MongoDB). The service and the reference
 * harness use the same server and the same write concern; each workload gets a database of its own so
 * none pays for another's data.
 */
export interface BenchDatabase {
  url: string
  /** What the results say the numbers were measured against. */
  description: string
  client: MongoClient
  /** The database server's process, when this bench started it (for its CPU time). */
  pid?: number
  stop: () => Promise<void>
}

/** The service's default write concern (WRITE_CONCERN_W=majority, WRITE_CONCERN_J=true). */
export const WRITE_CONCERN: WriteConcernSettings = { w: 'majority', journal: true }

export async function startDatabase (log: (line: string) => void): Promise<BenchDatabase> {
  const external = process.env.BENCH_MONGODB_URL
  let embedded: EmbeddedDatabase | undefined
  let dataDir: string | undefined
  if (external === undefined || external === '') {
    dataDir = mkdtempSync(join(tmpdir(), 'audit-log-bench-db-'))
    embedded = await startEmbeddedDatabase({ dataDir, log })
  }
  const url = embedded?.url ?? external as string
  const client = new MongoClient(url, { writeConcern: WRITE_CONCERN, appName: 'audit-log-bench' })
  await client.connect()
  const build = await client.db('admin').command({ buildInfo: 1 }) as { version?: string, ferretdbVersion?: string }
  const description = build.ferretdbVersion !== undefined
    ? `FerretDB ${build.ferretdbVersion} (SQLite backend), wire version of MongoDB ${String(build.version)}`
    : `MongoDB ${String(build.version)}`
  return {
    url,
    description,
    client,
    pid: embedded?.process.pid,
    stop: async () => {
      // an external server keeps only what it had: drop what the benchmarks created
      if (embedded === undefined) {
        for (const name of (await client.db('admin').admin().listDatabases()).databases.map((d) => d.name)) {
          if (name.startsWith(DATABASE_PREFIX)) await client.db(name).dropDatabase()
        }
      }
      await client.close()
      await embedded?.stop()
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

export const DATABASE_PREFIX = 'bench_'

/** A fresh database for one workload, with the events collection indexed exactly as the service does it. */
export async function prepareDatabase (client: MongoClient, name: string): Promise<Db> {
  const db = client.db(DATABASE_PREFIX + name)
  await db.dropDatabase()
  await ensureIndexes(db.collection<StoredEvent>('events'), EVENT_INDEXES)
  return db
}

/**
 * The bench user's incarnation (`uid`), the same in every workload's database, so the one token minted
 * per run (bench/token.ts) serves all of them.
 */
export const BENCH_USER_UID = 'bench-client-incarnation'

/** The bench's own user, created in the database the service will read users from. */
export async function createUser (db: Db, user: { username: string, tenant: string, roles: Role[] }): Promise<void> {
  const store = new UserStore(db)
  await store.ensureIndexes()
  const created = await store.create({ ...user, password: `bench-password-${process.pid}-${Date.now()}` })
  await store.collection.updateOne({ _id: created._id }, { $set: { uid: BENCH_USER_UID } })
}

/**
 * Events of one run in the database, exactly. Filtered on two top-level string fields, which FerretDB
 * pushes down to SQLite, so only the run's own events are decoded (a bare count scans everything).
 */
export async function countRunEvents (db: Db, tenant: string, marker: string): Promise<number> {
  const result = await db.command({ count: 'events', query: { tenant, event_type: marker } }) as { n: number }
  return result.n
}

/** The ids of one run's events in the database (filtered as countRunEvents is), as the API writes them. */
export async function runEventIds (db: Db, tenant: string, marker: string): Promise<Set<string>> {
  const docs = await db.collection<StoredEvent>('events').find({ tenant, event_type: marker }, { projection: { _id: 1 } }).toArray()
  return new Set(docs.map((doc) => doc._id.toHexString()))
}
