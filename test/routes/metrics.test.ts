import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build, createUser, sampleEvent, userWithToken } from '../helper.js'

const METRICS_TOKEN = 'metrics-token-for-the-tests-0123456789abcdef'

interface Scrape {
  types: Map<string, string>
  /** `name{a="1",b="2"}` (labels sorted) → value */
  samples: Map<string, number>
  text: string
}

async function scrape (app: FastifyInstance): Promise<Scrape> {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) })
  if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}`)
  const types = new Map<string, string>()
  const samples = new Map<string, number>()
  for (const line of res.body.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1] as string, type[2] as string)
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (sample === null) continue
    const labels = (sample[2] ?? '').split(/,(?=[a-z_]+=")/).filter(Boolean).sort().join(',')
    samples.set(`${sample[1] as string}{${labels}}`, Number(sample[3]))
  }
  return { types, samples, text: res.body }
}

/** A sample's value, 0 when absent (a labelled counter appears once it first moves). */
function value (scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const key = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',')
  return scrape.samples.get(`${name}{${key}}`) ?? 0
}

t.test('GET /metrics takes METRICS_TOKEN and nothing else', async (t) => {
  const unset = await build(t)
  const noneConfigured = await unset.inject({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) })
  t.equal(noneConfigured.statusCode, 401, 'METRICS_TOKEN unset: refused to everyone')
  t.equal(noneConfigured.json().code, 'AUTH_UNAUTHORIZED')

  const app = await build(t, { config: { METRICS_TOKEN } })
  const adminToken = await userWithToken(app, { username: 'an-admin', roles: ['admin', 'writer', 'reader'] })
  for (const [name, headers] of [
    ['no token', {}],
    ['a wrong token', bearer(METRICS_TOKEN + 'x')],
    ["a user's access token", bearer(adminToken)]
  ] as const) {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers })
    t.equal(res.statusCode, 401, `${name}: 401`)
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
  const ok = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const forUser = await app.inject({ method: 'GET', url: '/events', headers: bearer(METRICS_TOKEN) })
  t.equal(forUser.statusCode, 401, 'the metrics token opens nothing else')
})

t.test('every metric the README lists is there, with its type', async (t) => {
  const app = await build(t, { config: { METRICS_TOKEN } })
  const { types } = await scrape(app)
  const expected: Record<string, string> = {
    auditlog_http_requests_total: 'counter',
    auditlog_http_request_duration_seconds: 'histogram',
    auditlog_ingest_queue_depth: 'gauge',
    auditlog_group_commit_batch_size: 'histogram',
    auditlog_db_write_duration_seconds: 'histogram',
    auditlog_db_query_duration_seconds: 'histogram',
    auditlog_events_total: 'counter',
    auditlog_ingest_refusals_total: 'counter',
    auditlog_scans_in_progress: 'gauge',
    auditlog_scan_admission_refusals_total: 'counter',
    auditlog_login_failures_total: 'counter',
    auditlog_login_limiter_refusals_total: 'counter',
    auditlog_errors_total: 'counter',
    process_cpu_seconds_total: 'counter',
    process_resident_memory_bytes: 'gauge',
    nodejs_eventloop_lag_seconds: 'gauge',
    nodejs_heap_size_used_bytes: 'gauge'
  }
  for (const [name, type] of Object.entries(expected)) t.equal(types.get(name), type, `${name} is a ${type}`)
})

t.test('an ingest moves the request, event, batch and database-write metrics', async (t) => {
  const app = await build(t, { config: { METRICS_TOKEN } })
  const writer = await userWithToken(app, { username: 'a-writer', roles: ['writer'] })
  const before = await scrape(app)
  const created = await app.inject({
    method: 'POST',
    url: '/events',
    headers: bearer(writer),
    payload: sampleEvent({ event_id: 'metrics-1' })
  })
  t.equal(created.statusCode, 201)
  const repeat = await app.inject({
    method: 'POST',
    url: '/events',
    headers: bearer(writer),
    payload: sampleEvent({ event_id: 'metrics-1' })
  })
  t.equal(repeat.statusCode, 200)
  const after = await scrape(app)

  const route201 = { method: 'POST', route: '/events', status_class: '2xx' }
  t.equal(
    value(after, 'auditlog_http_requests_total', route201) - value(before, 'auditlog_http_requests_total', route201),
    2,
    'two POST /events answered 2xx'
  )
  t.equal(
    value(after, 'auditlog_http_request_duration_seconds_count', route201) -
      value(before, 'auditlog_http_request_duration_seconds_count', route201),
    2,
    'and timed'
  )
  t.equal(
    value(after, 'auditlog_events_total', { outcome: 'created' }) - value(before, 'auditlog_events_total', { outcome: 'created' }),
    1,
    'one stored'
  )
  t.equal(
    value(after, 'auditlog_events_total', { outcome: 'duplicate' }) - value(before, 'auditlog_events_total', { outcome: 'duplicate' }),
    1,
    'one duplicate'
  )
  t.equal(
    value(after, 'auditlog_group_commit_batch_size_count') - value(before, 'auditlog_group_commit_batch_size_count'),
    2,
    'two bulk inserts (one per request here)'
  )
  t.ok(
    value(after, 'auditlog_db_write_duration_seconds_count', { command: 'insert', result: 'ok' }) >
      value(before, 'auditlog_db_write_duration_seconds_count', { command: 'insert', result: 'ok' }),
    'database inserts were timed'
  )
  t.equal(value(after, 'auditlog_ingest_queue_depth'), 0, 'nothing left waiting')
})

t.test('reads, refused reads, failed and limited logins move their counters; no label grows without bound', async (t) => {
  const app = await build(t, { config: { METRICS_TOKEN, LOGIN_MAX_FAILURES: 1 } })
  const reader = await userWithToken(app, { username: 'a-reader', roles: ['reader'], tenant: 'tenant-secret-name' })
  await createUser(app, { username: 'someone', roles: ['reader'] })
  const before = await scrape(app)

  t.equal((await app.inject({ method: 'GET', url: '/events?username=john', headers: bearer(reader) })).statusCode, 200)
  // every slot of the instance taken: the next read is refused by admission control
  const held = Array.from({ length: app.scanAdmission.options.perInstance }, (_, i) => app.scanAdmission.admit(`holder-${i}`))
  const during = await scrape(app)
  const refused = await app.inject({ method: 'GET', url: '/events', headers: bearer(reader) })
  held.forEach((release) => release())
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'QUERY_CAPACITY')

  const login = (password: string) =>
    app.inject({ method: 'POST', url: '/login', payload: { username: 'someone', password, tenant: 'tenant-a' } })
  t.equal((await login('wrong password 1')).statusCode, 401)
  t.equal((await login('wrong password 2')).statusCode, 429, 'LOGIN_MAX_FAILURES=1: the second is refused by the limiter')
  t.equal((await app.inject({ method: 'GET', url: '/no/such/path/123' })).statusCode, 404)
  const after = await scrape(app)

  const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels)
  t.equal(delta('auditlog_http_requests_total', { method: 'GET', route: '/events', status_class: '2xx' }), 1, 'the read')
  t.equal(delta('auditlog_http_requests_total', { method: 'GET', route: '/events', status_class: '5xx' }), 1, 'the refused read')
  t.ok(delta('auditlog_db_query_duration_seconds_count', { command: 'find', result: 'ok' }) >= 1, 'its find was timed')
  t.equal(value(during, 'auditlog_scans_in_progress'), app.scanAdmission.options.perInstance, 'held slots are scans in progress')
  t.equal(value(after, 'auditlog_scans_in_progress'), 0, 'and given back')
  t.equal(delta('auditlog_scan_admission_refusals_total'), 1, 'one admission refusal')
  t.equal(delta('auditlog_errors_total', { code: 'QUERY_CAPACITY' }), 1)
  t.equal(delta('auditlog_login_failures_total'), 1, 'one failed login')
  t.equal(delta('auditlog_login_limiter_refusals_total', { code: 'AUTH_TOO_MANY_ATTEMPTS' }), 1, 'one limiter refusal')
  t.equal(
    delta('auditlog_http_requests_total', { method: 'GET', route: 'unmatched', status_class: '4xx' }),
    1,
    'an unknown path is counted as unmatched'
  )
  t.notMatch(after.text, /tenant-secret-name|a-reader|someone|\/no\/such\/path|john/, 'no tenant, user or raw URL in any label')
})

t.test('events refused because the ingest queue is full are counted', async (t) => {
  const app = await build(t, { config: { METRICS_TOKEN, INGEST_QUEUE_LIMIT: 1 } })
  const writer = await userWithToken(app, { username: 'a-queued-writer', roles: ['writer'] })
  const batch = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(writer),
    payload: { events: [sampleEvent(), sampleEvent()] }
  })
  t.equal(batch.statusCode, 503, 'two events do not fit a queue of one')
  const after = await scrape(app)
  t.equal(value(after, 'auditlog_ingest_refusals_total'), 2, 'both events counted as refused')
  t.equal(value(after, 'auditlog_errors_total', { code: 'SERVICE_OVERLOADED' }), 1)
})
