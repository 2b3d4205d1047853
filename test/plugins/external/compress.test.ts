import t from 'tap'
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'
import { EventNotWrittenError } from '../../../src/errors.js'

/**
 * Content-Encoding on requests: gzip and deflate bodies are decoded, with the decoded size held to the
 * route's limit; any other encoding is a 415, so plain JSON labelled `br` is not taken as is. Responses
 * are gzipped when the client asks, streaming exports included.
 */
t.test('gzip and deflate request bodies are decoded; other encodings are 415; the decoded size is bounded', async (t) => {
  const app = await build(t)
  const headers = {
    ...bearer(await userWithToken(app, { username: 'enc-all', roles: ['reader', 'writer'] })),
    'content-type': 'application/json'
  }
  const events = app.mongo.db!.collection('events')

  const gz = await app.inject({
    method: 'POST',
    url: '/events',
    headers: { ...headers, 'content-encoding': 'gzip' },
    payload: gzipSync(JSON.stringify(sampleEvent({ location: 'gzipped' })))
  })
  t.equal(gz.statusCode, 201, 'a gzip event is stored')
  t.equal(await events.countDocuments({ location: 'gzipped' }), 1)
  const batch = { events: Array.from({ length: 50 }, (_, i) => sampleEvent({ location: `deflated ${i}` })) }
  const df = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: { ...headers, 'content-encoding': 'deflate' },
    payload: deflateSync(JSON.stringify(batch))
  })
  t.equal(df.statusCode, 200, 'a deflate batch is stored')
  t.equal(await events.countDocuments({ location: /^deflated / }), 50)

  const before = await events.countDocuments({})
  for (const encoding of ['br', 'compress', 'zstd', 'x-custom']) {
    const res = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { ...headers, 'content-encoding': encoding },
      payload: JSON.stringify(sampleEvent())
    })
    t.equal(res.statusCode, 415, `plain JSON labelled ${encoding} is refused`)
    t.equal(res.json().statusCode, 415, 'with the error body')
  }
  const lying = await app.inject({
    method: 'POST',
    url: '/events',
    headers: { ...headers, 'content-encoding': 'gzip' },
    payload: JSON.stringify(sampleEvent())
  })
  t.equal(lying.statusCode, 400, 'plain JSON labelled gzip is a 400')
  const bomb = gzipSync(`{"event_type":"A","pad":"${' '.repeat(20 * 1024 * 1024)}"}`)
  t.ok(bomb.length < 100 * 1024, `the bomb is small (${bomb.length} bytes)`)
  const exploded = await app.inject({ method: 'POST', url: '/events', headers: { ...headers, 'content-encoding': 'gzip' }, payload: bomb })
  t.equal(exploded.statusCode, 413, 'a body that inflates past the route\'s limit is 413')
  const loginBomb = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    payload: bomb
  })
  t.equal(loginBomb.statusCode, 413, 'also on the unauthenticated login')
  t.equal(await events.countDocuments({}), before, 'none of those stored anything')
})

t.test('content codings are read as RFC 9110 says: case-insensitive, identity is none, x-gzip is gzip', async (t) => {
  const app = await build(t)
  const headers = { ...bearer(await userWithToken(app, { username: 'enc-names', roles: ['writer'] })), 'content-type': 'application/json' }
  const events = app.mongo.db!.collection('events')
  const cases: Array<[string, Buffer | string]> = [
    ['identity', JSON.stringify(sampleEvent({ location: 'coding identity' }))],
    ['IDENTITY', JSON.stringify(sampleEvent({ location: 'coding IDENTITY' }))],
    ['GZIP', gzipSync(JSON.stringify(sampleEvent({ location: 'coding GZIP' })))],
    ['x-gzip', gzipSync(JSON.stringify(sampleEvent({ location: 'coding x-gzip' })))],
    [' Deflate ', deflateSync(JSON.stringify(sampleEvent({ location: 'coding  Deflate ' })))]
  ]
  for (const [coding, payload] of cases) {
    const res = await app.inject({ method: 'POST', url: '/events', headers: { ...headers, 'content-encoding': coding }, payload })
    t.equal(res.statusCode, 201, `Content-Encoding: ${coding} is taken`)
    t.equal(await events.countDocuments({ location: `coding ${coding}` }), 1, 'and the event stored as sent')
  }
  const br = await app.inject({
    method: 'POST',
    url: '/events',
    headers: { ...headers, 'content-encoding': 'BR' },
    payload: JSON.stringify(sampleEvent())
  })
  t.equal(br.statusCode, 415, 'an unsupported coding is still refused, whatever its case')
})

t.test('responses are gzipped when the client asks: the export streams compressed, and reads back identically', async (t) => {
  const app = await build(t)
  const headers = bearer(await userWithToken(app, { username: 'enc-reader', roles: ['reader', 'writer'], tenant: 'tenant-z' }))
  const batch = { events: Array.from({ length: 300 }, (_, i) => sampleEvent({ location: `row ${i}` })) }
  t.equal((await app.inject({ method: 'POST', url: '/events/batch', headers, payload: batch })).statusCode, 200)

  const plain = await app.inject({ method: 'GET', url: '/events/export?order=asc', headers })
  t.equal(plain.headers['content-encoding'], undefined, 'not compressed unless asked')
  const zipped = await app.inject({ method: 'GET', url: '/events/export?order=asc', headers: { ...headers, 'accept-encoding': 'gzip' } })
  t.equal(zipped.statusCode, 200)
  t.equal(zipped.headers['content-encoding'], 'gzip', 'gzip when asked')
  t.equal(zipped.headers['content-type'], 'application/x-ndjson; charset=utf-8')
  const body = gunzipSync(zipped.rawPayload).toString('utf8')
  t.equal(body, plain.body, 'the same NDJSON once decompressed')
  t.equal(body.trim().split('\n').length, 300)
  const csv = await app.inject({ method: 'GET', url: '/events/export?format=csv', headers: { ...headers, 'accept-encoding': 'gzip' } })
  t.equal(csv.headers['content-encoding'], 'gzip', 'CSV too')
  const page = await app.inject({ method: 'GET', url: '/events?limit=100', headers: { ...headers, 'accept-encoding': 'gzip' } })
  t.equal(page.headers['content-encoding'], 'gzip', 'and a large page')
  t.equal(JSON.parse(gunzipSync(page.rawPayload).toString('utf8')).items.length, 100)
})

/** The body as its headers describe it: gunzipped or inflated when Content-Encoding says so (which throws if it is not). */
function decoded (res: { headers: Record<string, unknown>, rawPayload: Buffer }): string {
  const coding = res.headers['content-encoding']
  if (coding === 'gzip') return gunzipSync(res.rawPayload).toString()
  if (coding === 'deflate') return inflateSync(res.rawPayload).toString()
  return res.rawPayload.toString()
}

t.test('an error answer carries no Content-Encoding, Content-Type or Content-Disposition of the answer it replaced', async (t) => {
  const app = await build(t, { config: { AUDIT_ACCESS: true } })
  const headers = { ...bearer(await userWithToken(app, { username: 'enc-failing', roles: ['reader', 'writer'] })), 'accept-encoding': 'gzip' }
  for (let i = 0; i < 20; i++) {
    await app.inject({ method: 'POST', url: '/events', headers, payload: sampleEvent({ description: `e${i} ${'x'.repeat(200)}` }) })
  }
  // the export's headers are set and its body is being compressed when its audit event fails to be stored
  const record = app.auditTrail.record.bind(app.auditTrail)
  app.auditTrail.record = async () => { throw new EventNotWrittenError() }
  t.teardown(() => { app.auditTrail.record = record })
  for (const format of ['ndjson', 'csv']) {
    const res = await app.inject({ method: 'GET', url: `/events/export?format=${format}`, headers })
    t.equal(res.statusCode, 503, `${format}: the export fails`)
    t.equal(res.headers['content-encoding'], undefined, `${format}: no Content-Encoding over a plain body`)
    t.match(res.headers['content-type'], /^application\/json/, `${format}: the error is JSON, said so`)
    t.equal(res.headers['content-disposition'], undefined, `${format}: not offered as the export's file`)
    t.match(JSON.parse(decoded(res)), { statusCode: 503, code: 'EVENT_NOT_WRITTEN' }, `${format}: the body reads as its headers say`)
  }
  app.auditTrail.record = record
  const refused = await app.inject({ method: 'GET', url: '/events/export?afterSeq=1e400', headers })
  t.equal(refused.statusCode, 400)
  t.match(JSON.parse(decoded(refused)), { code: 'VALIDATION_FAILED' }, 'a refused export reads as its headers say')
  const ok = await app.inject({ method: 'GET', url: '/events/export', headers })
  t.equal(ok.headers['content-encoding'], 'gzip', 'a successful export is still compressed')
  t.ok(decoded(ok).trim().split('\n').length >= 20, 'and reads back (the events, and the audit events of the reads)')
})
