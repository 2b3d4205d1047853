import { loadavg } from 'node:os'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startDatabase } from './database.js'
import { sampleEvent, runMarker } from './events.js'
import { medianTime } from './stats.js'
import { buildApp } from '../src/app.js'
import { loadConfig, toAppConfig } from '../src/config.js'

/**
 * The embedded default's read wall, re-measured: how long the service takes to answer the reads a user
 * tries first as the events collection grows, on FerretDB/SQLite, which uses no index and scans the whole
 * collection for every read. Also measures what the size warning costs to find out (the sequence counters
 * against the database's own counts). The service runs in-process (`inject`: no network in the figure),
 * events go in through `POST /events/batch`, so they are stored exactly as the service stores them.
 *
 * The last line compares one read of the whole log with one of a segment of its newest events (docs/scaling.md).
 *
 * `npx tsx bench/embedded-reads.ts [--sizes=5000,10000,20000] [--reps=3]`: the default run is short
 * (the machine is shared); `--sizes=10000,30000,60000` re-measures the issue's table (several minutes).
 */
const args = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string]))
const SIZES = (args.get('sizes') ?? '5000,10000,20000').split(',').map(Number)
const REPS = Number(args.get('reps') ?? 3)
const BATCH = 1000
const SECRET = 'bench-embedded-secret-that-is-long-enough-0123456789'

const database = await startDatabase(() => {})
const config = loadConfig({
  MONGODB_URL: database.url,
  MONGODB_DATABASE: `bench_embedded_${randomBytes(3).toString('hex')}`,
  JWT_SECRET: SECRET,
  LOG_LEVEL: 'silent',
  SIGNING_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'bench-key-')), 'key.pem'),
  // every read is measured to its end, however long it takes
  QUERY_MAX_TIME_MS: 600000,
  AUDIT_ACCESS: false,
  RETENTION_SWEEP_INTERVAL_MS: 0,
  PASSWORD_HASH_MEMORY_KIB: 1024,
  PASSWORD_HASH_TIME_COST: 1,
  NODE_ENV: 'test'
})
const app = await buildApp({ config: toAppConfig(config, { url: database.url, secret: SECRET }) })
await app.ready()
const user = await app.userStore.create({
  username: 'bench',
  tenant: 'bench',
  roles: ['reader', 'writer'],
  password: randomBytes(18).toString('base64url')
})
const headers = { authorization: `Bearer ${app.loginService.issueToken(user).access_token}` }
const marker = runMarker('embedded')

async function median (call: () => Promise<unknown>): Promise<number> {
  return await medianTime(REPS, call)
}

async function read (url: string, status: number): Promise<void> {
  const response = await app.inject({ method: 'GET', url, headers })
  if (response.statusCode !== status) throw new Error(`${url} answered ${response.statusCode}: ${response.body}`)
}

const READS: Array<[string, string, number]> = [
  ['`GET /events?limit=50`', '/events?limit=50', 200],
  ['`?username=`', '/events?limit=50&username=user-007', 200],
  ['`?details.n=`', '/events?limit=50&details.n=7', 200],
  ['`GET /events/{missing id}`', '/events/000000000000000000000000', 404]
]

console.log(`# ${database.description}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}; median of ${REPS}`)
console.log(
  `| stored events | ${READS.map(([name]) => name).join(' | ')} | µs per stored event (worst) | size from sequence counters | \`estimatedDocumentCount\` | \`countDocuments({})\` |`
)
console.log(`|---|${READS.map(() => '---|').join('')}---|---|---|---|`)
let stored = 0
for (const size of SIZES) {
  while (stored < size) {
    const count = Math.min(BATCH, size - stored)
    const events = Array.from({ length: count }, (_, i) => ({
      ...sampleEvent(marker, stored + i),
      event_specificdetails: { n: stored + i }
    }))
    const response = await app.inject({ method: 'POST', url: '/events/batch', headers, payload: { events } })
    if (response.statusCode !== 200) throw new Error(`batch answered ${response.statusCode}: ${response.body}`)
    stored += count
  }
  // the counters are folded within SEQUENCE_FOLD_MS: wait until they have caught up, then read
  while ((await app.sequencer.foldedSeqCount()) < stored) await new Promise((resolve) => setTimeout(resolve, 100))
  const times: number[] = []
  for (const [, url, status] of READS) times.push(await median(async () => await read(url, status)))
  const events = app.mongo.db!.collection('events')
  const probes = [
    await median(async () => await app.sequencer.foldedSeqCount()),
    await median(async () => await events.estimatedDocumentCount()),
    await median(async () => await events.countDocuments({}))
  ]
  const worst = Math.max(...times) * 1000 / stored
  console.log(
    `| ${stored.toLocaleString('en')} | ${times.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(' | ')} | ${worst.toFixed(0)} | ${probes.map((ms) => `${ms.toFixed(1)} ms`).join(' | ')} |`
  )
}
// What a segmented log (a collection per range of seqs, newest first) would buy here: the same filtered read
// against a collection holding only the newest segment, beside the whole log. FerretDB scans one collection
// per read, so a segment costs what its own size costs, whatever the others hold.
const SEGMENT = Math.min(2000, stored)
const whole = app.mongo.db!.collection('events')
const segment = app.mongo.db!.collection('segment_probe')
await segment.insertMany(await whole.find({}).sort({ seq: -1 }).limit(SEGMENT).toArray())
const probe = { tenant: 'bench', 'event_specificdetails.n': -1 }
const wholeMs = await median(async () => await whole.find(probe).limit(50).toArray())
const segmentMs = await median(async () => await segment.find(probe).limit(50).toArray())
console.log(`# one filtered read (no match) over the whole log of ${stored.toLocaleString('en')}: ${wholeMs.toFixed(0)} ms; ` +
  `over a segment of the newest ${SEGMENT.toLocaleString('en')} beside it: ${segmentMs.toFixed(0)} ms`)
console.log(`# load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
await app.mongo.db!.dropDatabase()
await app.close()
await database.stop()
