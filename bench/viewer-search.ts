import { loadavg, tmpdir } from 'node:os'
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startDatabase } from './database.js'
import { sampleEvent, runMarker } from './events.js'
import { buildApp } from '../src/app.js'
import { loadConfig, toAppConfig } from '../src/config.js'

/**
 * What one viewer search costs, and how its reads should be admitted (#30). A search asks for three reads: a
 * page of 50, the timeline (a histogram over 24 h) and the count of the service's own records it hides (a
 * histogram with `event_type_prefix=audit.`). On FerretDB each is a scan. Three ways to send them, timed as a
 * person waits for them (first request to last answer), interleaved in every repetition so the machine's load
 * falls on each alike; the figure to read is each one's ratio to `all at once`:
 *
 * - all at once: three reads in flight; needs QUERY_MAX_CONCURRENT_PER_TENANT >= 3 (the default 2 refuses one);
 * - two, then one: the page and the timeline together, the count after them (what the viewer does): 2 in flight;
 * - one at a time: a search that is one admitted read at any moment.
 *
 * `npx tsx bench/viewer-search.ts [--events=5000] [--reps=9]`
 */
const args = new Map(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string]))
const EVENTS = Number(args.get('events') ?? 5000)
const REPS = Number(args.get('reps') ?? 9)
const SECRET = 'bench-viewer-secret-that-is-long-enough-0123456789'

const database = await startDatabase(() => {})
const config = loadConfig({
  MONGODB_URL: database.url,
  MONGODB_DATABASE: `bench_viewer_${randomBytes(3).toString('hex')}`,
  JWT_SECRET: SECRET,
  LOG_LEVEL: 'silent',
  SIGNING_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'bench-key-')), 'key.pem'),
  QUERY_MAX_TIME_MS: 600000,
  // the three reads of "all at once" must be admitted together to be measured at all
  QUERY_MAX_CONCURRENT_PER_TENANT: 4,
  AUDIT_ACCESS: false,
  RETENTION_SWEEP_INTERVAL_MS: 0,
  PASSWORD_HASH_MEMORY_KIB: 1024,
  PASSWORD_HASH_TIME_COST: 1,
  NODE_ENV: 'test'
})
const app = await buildApp({ config: toAppConfig(config, { url: database.url, secret: SECRET }) })
await app.ready()
const user = await app.userStore.create({ username: 'bench', tenant: 'bench', roles: ['reader', 'writer'], password: randomBytes(18).toString('base64url') })
const headers = { authorization: `Bearer ${app.loginService.issueToken(user).access_token}` }
const marker = runMarker('viewer')

for (let stored = 0; stored < EVENTS; stored += 1000) {
  const events = Array.from({ length: Math.min(1000, EVENTS - stored) }, (_, i) => sampleEvent(marker, stored + i))
  const response = await app.inject({ method: 'POST', url: '/events/batch', headers, payload: { events } })
  if (response.statusCode !== 200) throw new Error(`batch answered ${response.statusCode}: ${response.body}`)
}

const end = new Date(Date.now() + 60_000)
const range = `timeStart=${new Date(end.getTime() - 86_400_000).toISOString()}&timeEnd=${end.toISOString()}`
const URLS = {
  page: '/events?limit=50&event_type_not_prefix=audit.',
  timeline: `/events/histogram?${range}&interval=15m&event_type_not_prefix=audit.`,
  hidden: `/events/histogram?${range}&interval=15m&event_type_prefix=audit.`
}

async function read (url: string): Promise<void> {
  const response = await app.inject({ method: 'GET', url, headers })
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}: ${response.body}`)
}

const WAYS: Record<string, () => Promise<unknown>> = {
  'all at once': async () => await Promise.all([read(URLS.page), read(URLS.timeline), read(URLS.hidden)]),
  'two, then one': async () => { await Promise.all([read(URLS.page), read(URLS.timeline)]); await read(URLS.hidden) },
  'one at a time': async () => { await read(URLS.page); await read(URLS.timeline); await read(URLS.hidden) }
}
const times = new Map<string, number[]>(Object.keys(WAYS).map((name) => [name, []]))
for (let rep = 0; rep < REPS; rep++) {
  for (const [name, way] of Object.entries(WAYS)) {
    const started = performance.now()
    await way()
    times.get(name)?.push(performance.now() - started)
  }
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
const baseline = median(times.get('all at once') ?? [])
console.log(`# ${database.description}; ${EVENTS} events; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; median of ${REPS}`)
console.log('| a search sent | median ms | ratio to all at once | reads in flight |')
console.log('|---|---|---|---|')
const inFlight: Record<string, number> = { 'all at once': 3, 'two, then one': 2, 'one at a time': 1 }
for (const [name, values] of times) {
  console.log(`| ${name} | ${median(values).toFixed(0)} | ${(median(values) / baseline).toFixed(2)}× | ${inFlight[name]} |`)
}
await app.mongo.db!.dropDatabase()
await app.close()
await database.stop()
