import t from 'tap'
import { SCAN_COSTS, ScanAdmission } from '../../../src/plugins/app/http/scan-admission.js'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'

/**
 * Hardening issue, item 5: one tenant's reads must not starve everyone. Reads of the event log take a
 * slot per tenant and per instance; beyond either share a read is refused at once with 503 and
 * Retry-After, other tenants keep reading, and writes never wait for a slot. Before this, 8 heavy queries
 * and 3 exports of tenant A made tenant B's GET /events?limit=5 answer 503 after 5 s, seven times in a row.
 */
t.test('the admission counts slots per tenant and per instance, and gives each back once', async (t) => {
  const admission = new ScanAdmission({ perInstance: 3, perTenant: 2, queueMs: 0 })
  const a1 = admission.admit('a')
  admission.admit('a')
  t.throws(() => admission.admit('a'), { code: 'QUERY_CAPACITY', statusCode: 503 }, 'a tenant gets at most its share')
  const b1 = admission.admit('b')
  t.throws(() => admission.admit('c'), { code: 'QUERY_CAPACITY' }, 'and the instance at most its total')
  a1()
  a1()
  t.equal(admission.active, 2, 'a release counts once, however often it is called')
  t.doesNotThrow(() => admission.admit('c'), 'a freed slot is taken by whoever comes next')
  b1()
  t.doesNotThrow(() => admission.admit('b'))
})

t.test('a tenant at its share gets a fast 503 QUERY_CAPACITY; other tenants read, and writes go on', async (t) => {
  // no queue: beyond the instance's total a read is refused at once too (the queue is tested below)
  const app = await build(t, { config: { QUERY_MAX_CONCURRENT: 3, QUERY_MAX_CONCURRENT_PER_TENANT: 2, QUERY_QUEUE_MS: 0 } })
  const readerA = bearer(await userWithToken(app, { username: 'reader-a', roles: ['reader', 'writer'], tenant: 'tenant-a' }))
  const readerB = bearer(await userWithToken(app, { username: 'reader-b', roles: ['reader'], tenant: 'tenant-b' }))
  const readerC = bearer(await userWithToken(app, { username: 'reader-c', roles: ['reader'], tenant: 'tenant-c' }))
  t.equal((await app.inject({ method: 'GET', url: '/events?limit=5', headers: readerA })).statusCode, 200, 'a read with free slots runs')
  t.equal(app.scanAdmission.active, 0, 'and gives its slot back when answered')

  // tenant A's two long scans, still running
  const running = [app.scanAdmission.admit('tenant-a'), app.scanAdmission.admit('tenant-a')]
  for (const url of ['/events?limit=5', '/events/export', '/integrity/completeness', '/events/0123456789abcdef01234567', '/event']) {
    const refused = await app.inject({ method: 'GET', url, headers: readerA })
    t.equal(refused.statusCode, 503, `A's ${url} is refused`)
    t.equal(refused.headers['retry-after'], '1', 'with Retry-After')
    t.match(refused.json(), { code: 'QUERY_CAPACITY', message: /retry/ })
  }
  const other = await app.inject({ method: 'GET', url: '/events?limit=5', headers: readerB })
  t.equal(other.statusCode, 200, 'tenant B still reads while A is at its share')
  const write = await app.inject({ method: 'POST', url: '/events', headers: readerA, payload: sampleEvent() })
  t.equal(write.statusCode, 201, 'and A\'s writes never wait for a read slot')

  // the instance's last slot taken by B: C is refused too, though it runs nothing
  const bScan = app.scanAdmission.admit('tenant-b')
  t.equal(
    (await app.inject({ method: 'GET', url: '/events?limit=5', headers: readerC })).json().code,
    'QUERY_CAPACITY',
    "beyond the instance's total"
  )
  for (const release of [...running, bScan]) release()
  t.equal((await app.inject({ method: 'GET', url: '/events?limit=5', headers: readerA })).statusCode, 200, 'slots freed: A reads again')
  const exported = await app.inject({ method: 'GET', url: '/events/export', headers: readerA })
  t.equal(exported.statusCode, 200)
  t.equal(app.scanAdmission.active, 0, 'an export gives its slot back when its stream ends')
})

t.test('every admitted route documents its 503 QUERY_CAPACITY, so generated clients expect it', async (t) => {
  // GET /events/{id} and GET /events/{id}/proof answered an undocumented 503 when the fuzzer read four at once
  const app = await build(t)
  const document = app.swagger() as unknown as {
    paths: Record<string, Record<string, { responses: Record<string, { description?: string }> }>>
  }
  const admitted = app.scanAdmission.routes
  for (const route of admitted) {
    const [method, url] = route.split(' ') as [string, string]
    const path = url.replace(/:(\w+)/g, '{$1}')
    t.match(
      document.paths[path]?.[method.toLowerCase()]?.responses['503']?.description,
      /QUERY_CAPACITY/,
      `${method} ${path} documents QUERY_CAPACITY`
    )
  }
  t.ok(
    admitted.includes('GET /events/:id') && admitted.includes('GET /events/:id/proof') && admitted.length >= 6,
    `the admitted routes were found: ${admitted.join(', ')}`
  )
})

/**
 * Issue #28, Medium 3: with tenant A holding 4 exports and 5 replaying streams while 3 loops read
 * /integrity/completeness, tenant B's GET /events got 8 of 10 503 QUERY_TIMEOUT. What an operation costs
 * the database is counted (an export is not one plain read), and when the instance is full a read waits for
 * its turn, the tenant holding the least served first, instead of being refused at once.
 */
t.test('units freed go to the waiting tenant holding the least, before one that arrived first but holds more', async (t) => {
  const admission = new ScanAdmission({ perInstance: 4, perTenant: 4, queueMs: 60000 })
  const aExport = admission.admit('a', SCAN_COSTS.export)
  t.equal(admission.active, 2, 'an export counts as its weight')
  const aRead = admission.admit('a')
  const bRead = admission.admit('b')
  t.equal(admission.active, 4, 'the instance is full')
  t.throws(() => admission.admit('c'), { code: 'QUERY_CAPACITY' }, 'admit never waits')

  const served: string[] = []
  const waitFor = (tenant: string) => admission.acquire(tenant).then((release) => { served.push(tenant); return release })
  const aNext = waitFor('a')
  const bNext = waitFor('b')
  await Promise.resolve()
  t.equal(admission.waiting, 2, 'both wait, A first')
  t.equal(admission.fairShare, 2, 'two active tenants share four units')
  aRead()
  const bReleases = await bNext
  t.same(served, ['b'], 'B (1 unit held, under its share) is served before A (2 held), though A asked first')
  t.equal(admission.waiting, 1)
  bReleases()
  await aNext
  t.same(served, ['b', 'a'], 'then A, when units free again')
  bRead()
  aExport()
  t.equal(admission.heldBy('b'), 0)
  t.equal(admission.active, 1, 'every release counts its weight once')
})

t.test('tenants holding as much take turns; a tenant at its own bound holds no one up; the wait is bounded', async (t) => {
  const admission = new ScanAdmission({ perInstance: 2, perTenant: 2, queueMs: 60000 })
  const first = [admission.admit('x'), admission.admit('y')]
  const served: string[] = []
  const [b1, b2, c1, c2] = ['b', 'b', 'c', 'c'].map(async (tenant) =>
    await admission.acquire(tenant).then((release) => { served.push(tenant); return release }))
  await Promise.resolve()
  for (const release of first) release()
  const releaseB1 = await b1
  const releaseC1 = await c1
  t.same(served, ['b', 'c'], 'two units free: one to each waiting tenant, though B asked twice first')
  releaseB1?.()
  const releaseB2 = await b2
  t.same(served, ['b', 'c', 'b'], "B's unit back: B's next")
  releaseC1?.()
  const releaseC2 = await c2
  t.same(served, ['b', 'c', 'b', 'c'])
  releaseB2?.()
  releaseC2?.()

  const held = admission.admit('d', SCAN_COSTS.export)
  await t.rejects(admission.acquire('d'), { code: 'QUERY_CAPACITY' }, "a request beyond its tenant's bound is refused at once")
  const shortWait = new ScanAdmission({ perInstance: 1, perTenant: 1, queueMs: 20 })
  shortWait.admit('x')
  await t.rejects(shortWait.acquire('y'), { code: 'QUERY_CAPACITY', statusCode: 503 }, 'past QUERY_QUEUE_MS a waiting read is refused')
  t.equal(shortWait.waiting, 0, 'and leaves the queue')
  const gone = new AbortController()
  const abandoned = shortWait.acquire('y', 1, { signal: gone.signal, patient: true })
  gone.abort(new Error('the client went away'))
  await t.rejects(abandoned, /went away/, 'a waiter whose client leaves gives up its place')
  t.equal(shortWait.waiting, 0)
  held()
})

t.test("a tenant's query waits its turn among its own streams' page reads instead of being refused", async (t) => {
  const admission = new ScanAdmission({ perInstance: 4, perTenant: 1, queueMs: 60000 })
  const page = await admission.acquire('a', SCAN_COSTS.followerPage, { patient: true })
  const served: string[] = []
  const nextPage = admission.acquire('a', SCAN_COSTS.followerPage, { patient: true }).then((release) => { served.push('page'); return release })
  const query = admission.acquire('a').then((release) => { served.push('query'); return release })
  await Promise.resolve()
  t.equal(admission.waiting, 2, "the tenant's unit is a page read's: the next page and the query wait")
  await t.rejects(admission.acquire('a'), { code: 'QUERY_CAPACITY' }, "a second query is beyond the tenant's bound: refused at once")
  page()
  const releasePage = await nextPage
  t.same(served, ['page'], "the tenant's own reads in arrival order")
  releasePage()
  const releaseQuery = await query
  t.same(served, ['page', 'query'], 'then the query, rather than a 503')
  t.equal(admission.heldBy('a'), 1, 'never more than the bound at once')
  releaseQuery()
})

t.test("tenant A's costly reads fill the instance: B's read waits for its turn and is answered, A's next is refused", async (t) => {
  const app = await build(t, { config: { QUERY_MAX_CONCURRENT: 4, QUERY_MAX_CONCURRENT_PER_TENANT: 4, QUERY_QUEUE_MS: 60000 } })
  const readerA = bearer(await userWithToken(app, { username: 'fair-a', roles: ['reader'], tenant: 'fair-a' }))
  const readerB = bearer(await userWithToken(app, { username: 'fair-b', roles: ['reader'], tenant: 'fair-b' }))
  // A's two exports, still streaming: four units, the whole instance
  const exports = [app.scanAdmission.admit('fair-a', SCAN_COSTS.export), app.scanAdmission.admit('fair-a', SCAN_COSTS.export)]
  t.equal(app.scanAdmission.active, 4)
  const b: { early?: string } = {}
  const bRead = app.inject({ method: 'GET', url: '/events?limit=5', headers: readerB }).then((response) => {
    b.early ??= `${response.statusCode} ${response.body}`
    return response
  })
  while (app.scanAdmission.waiting === 0 && b.early === undefined) await new Promise((resolve) => setImmediate(resolve))
  t.equal(b.early, undefined, 'B is not refused at once: it waits for its turn')
  const aMore = await app.inject({ method: 'GET', url: '/events?limit=5', headers: readerA })
  t.equal(aMore.json().code, 'QUERY_CAPACITY', "A, at its bound, is refused at once; B's place is kept")
  exports[0]?.()
  b.early = 'after'
  const answered = await bRead
  t.equal(answered.statusCode, 200, `B's read was answered (${answered.body.slice(0, 80)})`)
  exports[1]?.()
  t.equal(app.scanAdmission.active, 0)
})

t.test('an export and a completeness check count as their weight through the routes', async (t) => {
  const app = await build(t, { config: { QUERY_MAX_CONCURRENT: 4, QUERY_MAX_CONCURRENT_PER_TENANT: 2, QUERY_QUEUE_MS: 0 } })
  const reader = bearer(await userWithToken(app, { username: 'weights', roles: ['reader'], tenant: 'weights' }))
  t.equal(app.scanAdmission.costs.get('GET /events/export'), SCAN_COSTS.export)
  t.equal(app.scanAdmission.costs.get('GET /integrity/completeness'), SCAN_COSTS.completeness)
  t.equal(app.scanAdmission.costs.get('GET /events'), SCAN_COSTS.read)
  const one = app.scanAdmission.admit('weights')
  for (const url of ['/events/export', '/integrity/completeness']) {
    const refused = await app.inject({ method: 'GET', url, headers: reader })
    t.equal(refused.json().code, 'QUERY_CAPACITY', `${url} needs 2 units: with one held, the tenant's bound of 2 refuses it`)
  }
  t.equal((await app.inject({ method: 'GET', url: '/events?limit=1', headers: reader })).statusCode, 200, 'a plain read fits')
  one()
  t.equal((await app.inject({ method: 'GET', url: '/events/export', headers: reader })).statusCode, 200, 'alone, the export runs')
})
