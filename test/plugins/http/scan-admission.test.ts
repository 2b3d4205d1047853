import t from 'tap'
import { ScanAdmission } from '../../../src/plugins/app/http/scan-admission.js'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'

/**
 * Hardening issue, item 5: one tenant's reads must not starve everyone. Reads of the event log take a
 * slot per tenant and per instance; beyond either share a read is refused at once with 503 and
 * Retry-After, other tenants keep reading, and writes never wait for a slot. Before this, 8 heavy queries
 * and 3 exports of tenant A made tenant B's GET /events?limit=5 answer 503 after 5 s, seven times in a row.
 */
t.test('the admission counts slots per tenant and per instance, and gives each back once', async (t) => {
  const admission = new ScanAdmission({ perInstance: 3, perTenant: 2 })
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
  const app = await build(t, { config: { QUERY_MAX_CONCURRENT: 3, QUERY_MAX_CONCURRENT_PER_TENANT: 2 } })
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
