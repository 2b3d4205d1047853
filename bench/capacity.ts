import { loadavg, tmpdir } from 'node:os'
import { mkdtempSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { BSON, type Document } from 'mongodb'
import { EVENT_INDEXES, SEQ_INDEX } from '../src/plugins/app/events/event-store.js'
import { BriefSampleEvent } from '../src/schemas/event.js'
import { project, projectionTable, bytesPerEvent, type MeasuredCosts, type Plan } from './capacity-model.js'

/**
 * The capacity model's inputs, measured on what the service really stores, then the projection for
 * 1k, 50k and 1M events/s kept a year (docs/scaling.md). Events (the brief's sample event, each with its
 * own event_id) go in through POST /events/batch in batches of 100 on an app built in-process; then:
 * - bytes per stored event: BSON.calculateObjectSize of the stored documents (uncompressed: WiredTiger
 *   compresses on disk, so this is an upper bound of the data size);
 * - bytes per index entry: for every index declared on the events collection (store.ts, plus `_id`), the
 *   BSON of the key's values without field names, as an index key holds them, plus an 8-byte record id;
 * - the tree per event: the BSON of merkle_tiles (full tiles only, written once) over the leaves they hold;
 * - one checkpoint document's BSON;
 * - service CPU per event, batched: process.cpuUsage over the batches (in-process: no HTTP parsing or
 *   socket, so a lower bound); single events: BENCHMARKS.md (W1, 50 connections, group commit on, 0.61 ms).
 *
 * `npx tsx bench/capacity.ts [--events=2560]`
 */

/** BENCHMARKS.md, second round (issue #15): service CPU per event of POST /events, W1 50 connections, load 17–20. */
export const SINGLE_EVENT_CPU_MS = 0.61
const KEY_RECORD_ID_BYTES = 8

export interface Measured { costs: MeasuredCosts, events: number, treeLeaves: number, cpuSource: string }

/** Ingests `count` events through the app and measures what they cost; the app's database should be empty. */
export async function measureCosts (app: FastifyInstance, count: number, headers: Record<string, string>): Promise<Measured> {
  const db = app.mongo.db!
  const cpuBefore = process.cpuUsage()
  for (let sent = 0; sent < count; sent += 100) {
    const events = Array.from({ length: Math.min(100, count - sent) }, (_, i) => ({
      ...structuredClone(BriefSampleEvent),
      event_id: `capacity-${sent + i}-${randomBytes(4).toString('hex')}`
    }))
    const response = await app.inject({ method: 'POST', url: '/events/batch', headers, payload: { events } })
    if (response.statusCode !== 200) throw new Error(`batch answered ${response.statusCode}: ${response.body}`)
  }
  const cpu = process.cpuUsage(cpuBefore)
  const batchedCpuMs = (cpu.user + cpu.system) / 1000 / count

  const stored = await db.collection('events').find({}).toArray()
  if (stored.length !== count) throw new Error(`expected ${count} stored events, found ${stored.length}`)
  const eventBytes = average(stored.map((doc) => BSON.calculateObjectSize(doc)))
  const indexEntryBytes: Record<string, number> = {}
  for (const index of [{ name: '_id_', key: { _id: 1 } }, ...EVENT_INDEXES, SEQ_INDEX]) {
    const fields = Object.keys(index.key as Document)
    indexEntryBytes[String(index.name)] =
      average(stored.map((doc) => BSON.calculateObjectSize(Object.fromEntries(fields.map((field, i) => [String(i), doc[field]]))))) +
      KEY_RECORD_ID_BYTES
  }

  // the folder appends the leaves to the tree within SEQUENCE_FOLD_MS; full tiles are written once
  const tiles = db.collection('merkle_tiles')
  const fullTiles = Math.floor(count / 256)
  for (let attempt = 0; attempt < 300 && (await tiles.countDocuments({ level: 0 })) < fullTiles; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const tileDocs = await tiles.find({}).toArray()
  const treeLeaves = tileDocs.filter((tile) => tile.level === 0).length * 256
  const treeBytesPerEvent = treeLeaves === 0 ? 0 : tileDocs.reduce((sum, tile) => sum + BSON.calculateObjectSize(tile), 0) / treeLeaves

  await app.checkpoints.signDue()
  const checkpoint = await db.collection('merkle_checkpoints').findOne({})
  const checkpointBytes = checkpoint === null ? 0 : BSON.calculateObjectSize(checkpoint)
  return {
    costs: {
      serviceCpuMsPerEvent: { single: SINGLE_EVENT_CPU_MS, batched: batchedCpuMs },
      eventBytes,
      indexEntryBytes,
      treeBytesPerEvent,
      checkpointBytes
    },
    events: count,
    treeLeaves,
    cpuSource: `batched: measured here, ${count} events in batches of 100, in-process; single: BENCHMARKS.md (W1 50 conn.)`
  }
}

function average (values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length)
}

/**
 * The assumptions, each with its source (docs/scaling.md explains them):
 * - 8,000 events/s per shard: the database write rate measured here for the service's own write pattern,
 *   bulk inserts of 500 events with every index and a claim per bulk (BENCHMARKS.md, bench/index-cost.ts,
 *   case (e): 8,034–8,251 events/s, FerretDB/SQLite on 2 shared vCPUs). MongoDB publishes no per-shard figure
 *   and asks for a benchmark with your own data; replace it with yours (`--shard-rate`; BENCH_MONGODB_URL
 *   runs bench/index-cost.ts against a real shard).
 * - 2 TiB per shard, 3 copies (a three-member replica set per shard), cores at 60%, 100 tenants always writing,
 *   checkpoints every 2 s (CHECKPOINT_INTERVAL_MS's default), a tenth of events sent one by one.
 */
export const DEFAULT_PLAN: Omit<Plan, 'eventsPerSecond'> = {
  retentionDays: 365,
  singleShare: 0.1,
  shardEventsPerSecond: 8000,
  shardStorageBytes: 2 * 1024 ** 4,
  coreUtilization: 0.6,
  activeTenants: 100,
  checkpointIntervalMs: 2000,
  copies: 3
}
export const TARGETS = [1000, 50000, 1000000]

async function main (): Promise<void> {
  const args = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string]))
  const count = Number(args.get('events') ?? 2560)
  const { startDatabase } = await import('./database.js')
  const { buildApp } = await import('../src/app.js')
  const { loadConfig, toAppConfig } = await import('../src/config.js')
  const database = await startDatabase(() => {})
  const secret = 'bench-capacity-secret-that-is-long-enough-0123456789'
  const config = loadConfig({
    MONGODB_URL: database.url,
    MONGODB_DATABASE: `bench_capacity_${randomBytes(3).toString('hex')}`,
    JWT_SECRET: secret,
    LOG_LEVEL: 'silent',
    SIGNING_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'bench-key-')), 'key.pem'),
    AUDIT_ACCESS: false,
    RETENTION_SWEEP_INTERVAL_MS: 0,
    SEQUENCE_FOLD_MS: 100,
    PASSWORD_HASH_MEMORY_KIB: 1024,
    PASSWORD_HASH_TIME_COST: 1,
    NODE_ENV: 'test'
  })
  const app = await buildApp({ config: toAppConfig(config, { url: database.url, secret }) })
  await app.ready()
  try {
    const user = await app.userStore.create({
      username: 'capacity',
      tenant: 'capacity',
      roles: ['writer'],
      password: randomBytes(18).toString('base64url')
    })
    const headers = { authorization: `Bearer ${app.loginService.issueToken(user).access_token}` }
    const measured = await measureCosts(app, count, headers)
    const plan: Omit<Plan, 'eventsPerSecond'> = {
      ...DEFAULT_PLAN,
      shardEventsPerSecond: Number(args.get('shard-rate') ?? DEFAULT_PLAN.shardEventsPerSecond)
    }
    const perEvent = bytesPerEvent(measured.costs)
    console.log(
      `# ${database.description}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${measured.events} events of the brief's sample`
    )
    console.log(
      `# stored event ${perEvent.document.toFixed(0)} B; index entries ${Object.entries(measured.costs.indexEntryBytes)
        .map(([name, bytes]) => `${name} ${bytes.toFixed(0)} B`)
        .join(', ')} (sum ${perEvent.indexes.toFixed(0)} B)`
    )
    console.log(
      `# tree ${perEvent.tree.toFixed(1)} B per event (${measured.treeLeaves} leaves in full tiles); checkpoint ${measured.costs.checkpointBytes} B`
    )
    console.log(
      `# service CPU per event: batched ${measured.costs.serviceCpuMsPerEvent.batched.toFixed(3)} ms, single ${measured.costs.serviceCpuMsPerEvent.single} ms (${measured.cpuSource})`
    )
    console.log(`# plan: ${JSON.stringify(plan)}`)
    console.log(projectionTable(TARGETS.map((eventsPerSecond) => project(measured.costs, { ...plan, eventsPerSecond }))))
  } finally {
    await app.mongo.db!.dropDatabase()
    await app.close()
    await database.stop()
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
