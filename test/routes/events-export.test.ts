import t, { type Test } from 'tap'
import { isDeepStrictEqual } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { AddressInfo } from 'node:net'
import { request, type IncomingMessage } from 'node:http'
import { parse } from 'csv-parse/sync'
import { Long, ObjectId, type CommandStartedEvent, type CommandSucceededEvent } from 'mongodb'
import { build, bearer, userWithToken } from '../helper.js'
import type { StoredEvent } from '../../src/plugins/app/events/record.js'

/**
 * GET /events/export against the real database. FerretDB reads the whole collection for every query,
 * so the collection grows in steps: filters, tenancy and refusals on a few events; the disconnect on
 * 4,000; the round trips and the memory measurement on 10,000 events of about 750 bytes (a ~7 MB body).
 */
const TOTAL = 10_000
const FEW = 40
const BASE_TIME = Date.parse('2024-03-01T00:00:00.000Z')
// the columns the brief asks for, spelled out here so a change in the code cannot silently pass
const CSV_HEADER = ['id', 'seq', 'timestamp', 'tenant', 'submitted_by', 'event_type', 'username', 'entitytype', 'ip', 'location',
  'description', 'event_id', 'occurred_at', 'event_specificdetails', 'hash', 'erased', 'schema_version']
// text a CSV or NDJSON writer must escape: separators, quotes, line breaks, JSON-significant characters
const AWKWARD_TEXT = [
  'plain',
  'comma, inside',
  'say "hi"',
  'two\nlines',
  'crlf\r\nline',
  '"quoted, and\nbroken"',
  'unicode ✓ é \u2028 sep',
  '{"json": [1]}',
  'tab\tback\\slash'
]

function seedEvent (i: number, tenant: string): StoredEvent {
  const _id = new ObjectId()
  const doc: StoredEvent = {
    _id,
    tenant,
    // seeded in order from 0 per tenant, so the log is gapless
    seq: i + 1,
    idem_key: `i:${_id.toHexString()}`,
    // three events per millisecond: ties are broken by id
    timestamp: new Date(BASE_TIME + Math.floor(i / 3)),
    submitted_by: `writer-${tenant}`,
    event_type: `Type${i % 4}`,
    username: `user_${i % 97}`,
    entitytype: 'customer_account',
    ip: i % 2 === 0 ? '192.168.0.1' : '2001:db8::1',
    location: AWKWARD_TEXT[(i + 3) % AWKWARD_TEXT.length] as string,
    description: `${AWKWARD_TEXT[i % AWKWARD_TEXT.length] as string} #${i}`,
    event_specificdetails: {
      seq: i,
      amount: i % 5 === 0 ? 42.5 : String(i),
      note: AWKWARD_TEXT[(i + 5) % AWKWARD_TEXT.length],
      nested: { deep: { list: [1, 'two', null, true] } },
      filler: 'x'.repeat(300)
    }
  }
  if (i % 2 === 0) doc.event_id = `evt-${tenant}-${i}`
  if (i % 3 === 0) doc.occurred_at = new Date(BASE_TIME - 1000 * i)
  return doc
}

/** The public form of a stored event, written out independently of the code under test. */
function expectedEvent (doc: StoredEvent): Record<string, unknown> {
  return {
    id: doc._id.toHexString(),
    seq: doc.seq,
    timestamp: doc.timestamp.toISOString(),
    tenant: doc.tenant,
    submitted_by: doc.submitted_by,
    event_type: doc.event_type,
    username: doc.username,
    entitytype: doc.entitytype,
    ip: doc.ip,
    location: doc.location,
    description: doc.description,
    ...(doc.event_specificdetails !== undefined ? { event_specificdetails: doc.event_specificdetails } : {}),
    ...(doc.event_id !== undefined ? { event_id: doc.event_id } : {}),
    ...(doc.occurred_at !== undefined ? { occurred_at: doc.occurred_at.toISOString() } : {})
  }
}

function byTimeThenId (a: StoredEvent, b: StoredEvent): number {
  return a.timestamp.getTime() - b.timestamp.getTime() || a._id.toHexString().localeCompare(b._id.toHexString())
}

function parseNdjson (body: string): unknown[] {
  if (body === '') return []
  // every line, the last included, ends with a newline
  if (!body.endsWith('\n')) throw new Error('the NDJSON body does not end with a newline')
  return body.slice(0, -1).split('\n').map((line) => JSON.parse(line))
}

/** A CSV record back into an event: empty optional columns are absent, details are JSON. */
function csvRecordToEvent (header: string[], record: string[]): Record<string, unknown> {
  const event: Record<string, unknown> = {}
  header.forEach((column, index) => {
    const value = record[index] as string
    if (value === '' && ['event_id', 'occurred_at', 'event_specificdetails', 'hash', 'erased', 'schema_version'].includes(column)) return
    event[column] = column === 'event_specificdetails' ? JSON.parse(value) : column === 'seq' ? Number(value) : value
  })
  return event
}

/** The V8 collector, so heap samples show what is retained rather than garbage not yet collected. */
function exposeGc (): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** A cursor id as the driver reports it (Long, or a plain number when small) as a bigint. */
function cursorIdOf (id: unknown): bigint {
  return typeof id === 'object' && id !== null && 'toBigInt' in id ? (id as { toBigInt: () => bigint }).toBigInt() : BigInt(id as number)
}

/** Compares element by element, reporting the first few differences rather than two 10,000-element trees. */
function compareAll (t: Test, actual: unknown[], expected: unknown[], what: string): void {
  t.equal(actual.length, expected.length, `${what}: as many events as stored`)
  const mismatches = []
  for (let i = 0; i < expected.length && mismatches.length < 3; i++) {
    if (!isDeepStrictEqual(actual[i], expected[i])) mismatches.push({ index: i, actual: actual[i], expected: expected[i] })
  }
  t.same(mismatches, [], what)
}

async function waitFor (condition: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

t.test('GET /events/export', async (t) => {
  const app = await build(t, { monitorCommands: true })
  const readerA = bearer(await userWithToken(app, { username: 'reader-a', roles: ['reader'], tenant: 'tenant-a' }))
  const readerB = bearer(await userWithToken(app, { username: 'reader-b', roles: ['reader'], tenant: 'tenant-b' }))
  const writerA = bearer(await userWithToken(app, { username: 'writer-only', roles: ['writer'], tenant: 'tenant-a' }))

  const seeded = Array.from({ length: FEW }, (_, i) => seedEvent(i, 'tenant-a'))
  const tenantB = Array.from({ length: 3 }, (_, i) => seedEvent(i, 'tenant-b'))
  await app.eventStore.insertMany([...seeded, ...tenantB])

  await t.test('filters and order apply to the export', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/events/export?event_type=Type3&event_type=Type1&order=desc', headers: readerA })
    t.equal(res.statusCode, 200)
    const expected = seeded.filter((doc) => doc.event_type === 'Type3' || doc.event_type === 'Type1').sort(byTimeThenId).reverse()
    t.equal(expected.length, FEW / 2)
    t.same(parseNdjson(res.body), expected.map(expectedEvent))

    const details = await app.inject({
      method: 'GET',
      url: '/events/export?details.amount=42.5&details.seq=10&format=csv',
      headers: readerA
    })
    const [header, ...records] = parse(details.body) as string[][]
    t.same(records.map((record) => csvRecordToEvent(header as string[], record)), [expectedEvent(seeded[10] as StoredEvent)])
  })

  await t.test('an empty result is an empty NDJSON body, or the CSV header alone', async (t) => {
    const ndjson = await app.inject({ method: 'GET', url: '/events/export?username=nobody', headers: readerA })
    t.equal(ndjson.statusCode, 200)
    t.equal(ndjson.body, '')
    const csv = await app.inject({ method: 'GET', url: '/events/export?username=nobody&format=csv', headers: readerA })
    t.equal(csv.statusCode, 200)
    t.equal(csv.body, CSV_HEADER.join(',') + '\r\n')
  })

  await t.test('another tenant exports only its own events, whatever the filters', async (t) => {
    const all = await app.inject({ method: 'GET', url: '/events/export', headers: readerB })
    t.same(parseNdjson(all.body), [...tenantB].sort(byTimeThenId).map(expectedEvent))
    // tenant-a has ten of these; tenant-b none
    const filtered = await app.inject({ method: 'GET', url: '/events/export?event_type=Type3&format=csv', headers: readerB })
    t.equal(filtered.body, CSV_HEADER.join(',') + '\r\n')
  })

  await t.test('bad export requests are refused before any streaming', async (t) => {
    const cases: Array<[string, RegExp]> = [
      ['/events/export?limit=10', /additional property 'limit'/],
      ['/events/export?cursor=abc', /additional property 'cursor'/],
      ['/events/export?format=xml', /format/],
      ['/events/export?username[$ne]=x', /additional property 'username\[\$ne\]'/],
      ['/events/export?timeStart=2024-03-02T00:00:00Z&timeEnd=2024-03-01T00:00:00Z', /timeStart must not be after timeEnd/]
    ]
    for (const [url, message] of cases) {
      const res = await app.inject({ method: 'GET', url, headers: readerA })
      t.equal(res.statusCode, 400, url)
      t.match(res.json().message, message, url)
    }
    t.equal((await app.inject({ method: 'GET', url: '/events/export' })).statusCode, 401, 'needs a token')
    t.equal((await app.inject({ method: 'GET', url: '/events/export', headers: writerA })).statusCode, 403, 'needs the reader role')
  })

  /** Adds tenant-a events until there are `total`, straight through the store (1,000 per insert). */
  async function seedUpTo (t: Test, total: number): Promise<void> {
    while (seeded.length < total) {
      const start = seeded.length
      const docs = Array.from({ length: Math.min(1000, total - start) }, (_, k) => seedEvent(start + k, 'tenant-a'))
      const outcomes = await app.eventStore.insertMany(docs)
      t.ok(outcomes.every((o) => o.ok), `seeded ${docs.length} events from ${start}`)
      seeded.push(...docs)
    }
    t.equal(seeded.length, total)
  }
  const ascending = () => [...seeded].sort(byTimeThenId)

  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  // 4,000 events are four batches of the export's cursor: a client leaving after the first chunk leaves three unread
  await t.test('seeding 4,000 events', (t) => seedUpTo(t, 4000))

  await t.test('a client that disconnects mid-export stops the database cursor', async (t) => {
    const opened: bigint[] = []
    const killed: bigint[] = []
    let exhausted = 0
    function onSucceeded (event: CommandSucceededEvent) {
      const cursor = (event.reply as { cursor?: { id: unknown, ns: string } }).cursor
      if (cursor === undefined || !cursor.ns.endsWith('.events')) return
      if (event.commandName === 'find') opened.push(cursorIdOf(cursor.id))
      // only the export's cursor is open during this test: an id of 0 in a getMore reply means it was read to its end
      if (event.commandName === 'getMore' && cursorIdOf(cursor.id) === 0n) exhausted++
    }
    // from the server's answer to killCursors, not from the command as sent: only then is the cursor gone, and a
    // getMore sent in between would still be answered
    const killing = new Set<number>()
    function onStarted (event: CommandStartedEvent) {
      if (event.commandName === 'killCursors' && event.command.killCursors === 'events') killing.add(event.requestId)
    }
    function onKilled (event: CommandSucceededEvent) {
      if (event.commandName !== 'killCursors' || !killing.has(event.requestId)) return
      killed.push(...((event.reply as { cursorsKilled?: unknown[] }).cursorsKilled ?? []).map(cursorIdOf))
    }
    app.mongo.client.on('commandSucceeded', onSucceeded)
    app.mongo.client.on('commandSucceeded', onKilled)
    app.mongo.client.on('commandStarted', onStarted)
    t.teardown(() => {
      app.mongo.client.off('commandSucceeded', onSucceeded)
      app.mongo.client.off('commandSucceeded', onKilled)
      app.mongo.client.off('commandStarted', onStarted)
    })

    // node:http on its own connection, destroyed after the first chunk: the client goes away mid-body
    const firstChunk = await new Promise<Buffer>((resolve, reject) => {
      const req = request(`${baseUrl}/events/export`, { headers: readerA, agent: false }, (res) => {
        res.once('data', (chunk: Buffer) => {
          req.destroy()
          resolve(chunk)
        })
      })
      req.on('error', (err) => { if (!req.destroyed) reject(err) })
      req.end()
    })
    t.ok(firstChunk.byteLength > 0, 'the first chunk arrived before the client left')

    t.equal(opened.length, 1, 'the export opened one cursor')
    const cursorId = opened[0] as bigint
    t.not(cursorId, 0n, 'the first batch did not exhaust it')
    await waitFor(() => killed.includes(cursorId), 'killCursors for the export cursor')
    t.ok(killed.includes(cursorId), 'the service had the server kill the export cursor')
    t.equal(exhausted, 0, 'the cursor was never read to its end')

    // and the server no longer knows it (a live cursor answers getMore from any session: checked below)
    const error = await app.mongo.db!.command({ getMore: Long.fromBigInt(cursorId), collection: 'events', batchSize: 1 }).then(
      () => null,
      (err: unknown) => err
    )
    t.equal((error as { code?: number } | null)?.code, 43, 'getMore on it fails with CursorNotFound')
  })

  await t.test('a client that asked for gzip and disconnects mid-export stops the database cursor too', async (t) => {
    const opened: bigint[] = []
    const killed: bigint[] = []
    function onSucceeded (event: CommandSucceededEvent) {
      const cursor = (event.reply as { cursor?: { id: unknown, ns: string } }).cursor
      if (event.commandName === 'find' && cursor !== undefined && cursor.ns.endsWith('.events')) opened.push(cursorIdOf(cursor.id))
    }
    function onStarted (event: CommandStartedEvent) {
      if (event.commandName === 'killCursors' && event.command.killCursors === 'events') {
        killed.push(...(event.command.cursors as unknown[]).map(cursorIdOf))
      }
    }
    app.mongo.client.on('commandSucceeded', onSucceeded)
    app.mongo.client.on('commandStarted', onStarted)
    t.teardown(() => {
      app.mongo.client.off('commandSucceeded', onSucceeded)
      app.mongo.client.off('commandStarted', onStarted)
    })
    const encoding = await new Promise<string | undefined>((resolve, reject) => {
      const req = request(`${baseUrl}/events/export`, { headers: { ...readerA, 'accept-encoding': 'gzip' }, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve(res.headers['content-encoding'])
        })
      })
      req.on('error', (err) => { if (!req.destroyed) reject(err) })
      req.end()
    })
    t.equal(encoding, 'gzip', 'the export was gzipped')
    t.equal(opened.length, 1, 'the export opened one cursor')
    const cursorId = opened[0] as bigint
    await waitFor(() => killed.includes(cursorId), 'killCursors for the gzipped export cursor')
    t.ok(killed.includes(cursorId), 'the service sent killCursors for it')
  })

  await t.test('control: a live cursor answers getMore by id, so CursorNotFound above means it was closed', async (t) => {
    const cursor = app.eventStore.collection.find({ tenant: 'tenant-a' }).batchSize(1)
    t.teardown(() => cursor.close())
    await cursor.next()
    const id = cursor.id
    t.ok(id !== undefined && !id.isZero(), 'the cursor is open on the server')
    const reply = await app.mongo.db!.command({ getMore: id, collection: 'events', batchSize: 1 })
    t.equal(reply.ok, 1)
    t.equal(reply.cursor.nextBatch.length, 1)
  })

  await t.test(`seeding ${TOTAL} events`, (t) => seedUpTo(t, TOTAL))

  await t.test('NDJSON over HTTP: streamed in bounded memory, and parses back to exactly the stored events', async (t) => {
    const expected = ascending().map(expectedEvent)
    const gc = exposeGc()
    const usage = () => { const m = process.memoryUsage(); return { heap: m.heapUsed, all: m.heapUsed + m.external } }
    gc()
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    const before = usage()

    // node:http rather than fetch: its socket-paced 'data' events add little client-side buffering to what is measured
    const samples: Array<{ at: number, heap: number, all: number }> = []
    let lines = 0
    let mismatch: { index: number, actual: unknown, expected: unknown } | undefined
    const { res, bytes, rest } = await new Promise<{ res: IncomingMessage, bytes: number, rest: string }>((resolve, reject) => {
      request(`${baseUrl}/events/export`, { headers: readerA, agent: false }, (res) => {
        res.setEncoding('utf8')
        let pending = ''
        let bytes = 0
        let sinceSample = 0
        res.on('data', (text: string) => {
          bytes += Buffer.byteLength(text)
          pending += text
          const parts = pending.split('\n')
          pending = parts.pop() as string
          // each line is parsed, checked and dropped as it arrives: this client holds no more than a chunk
          for (const line of parts) {
            const event: unknown = JSON.parse(line)
            if (mismatch === undefined && !isDeepStrictEqual(event, expected[lines])) {
              mismatch = { index: lines, actual: event, expected: expected[lines] }
            }
            lines++
          }
          sinceSample += Buffer.byteLength(text)
          if (sinceSample >= 256 * 1024) {
            sinceSample = 0
            // a full collection first: the sample is what is still held, not garbage awaiting collection
            gc()
            const now = usage()
            samples.push({ at: bytes, heap: now.heap - before.heap, all: now.all - before.all })
          }
        })
        res.on('end', () => resolve({ res, bytes, rest: pending }))
        res.on('error', reject)
      }).on('error', reject).end()
    })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'application/x-ndjson; charset=utf-8')
    t.match(res.headers['content-disposition'], /^attachment; filename="events-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.ndjson"$/)
    t.equal(rest, '', 'the body ends with a complete line')
    t.equal(lines, TOTAL, 'one line per stored event')
    t.same(mismatch, undefined, 'each line parses back to its stored event in ascending order, awkward text intact')

    t.ok(samples.length >= 16, `sampled memory ${samples.length} times while the body streamed`)
    const mib = (n: number) => (n / 1024 / 1024).toFixed(2)
    const mean = (list: typeof samples) => list.reduce((sum, s) => sum + s.all, 0) / list.length
    const quarter = Math.floor(samples.length / 4)
    const early = mean(samples.slice(0, quarter))
    const late = mean(samples.slice(-quarter))
    const peakHeap = Math.max(...samples.map((s) => s.heap))
    const peakAll = Math.max(...samples.map((s) => s.all))
    t.comment(`NDJSON export of ${TOTAL} events: body ${mib(bytes)} MiB. Growth over the pre-export baseline, after gc: ` +
      `heapUsed peak ${mib(peakHeap)} MiB; heapUsed+external peak ${mib(peakAll)} MiB, mean ${mib(early)} MiB in the first ` +
      `quarter of the samples and ${mib(late)} MiB in the last`)
    // holding every event, as the JSON text sent or as documents (several times larger), would take at least the body's size
    t.ok(peakHeap < bytes, `heap growth peaked at ${mib(peakHeap)} MiB, under the ${mib(bytes)} MiB body`)
    // what is held is a batch or two, whatever has been sent: a server accumulating events would grow by half the body in between
    t.ok(late - early < bytes / 4, `memory did not grow with the volume streamed (${mib(early)} → ${mib(late)} MiB)`)
  })

  await t.test('CSV: header row, one RFC 4180 row per stored event, details as JSON', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/events/export?format=csv', headers: readerA })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'text/csv; charset=utf-8')
    t.match(res.headers['content-disposition'], /^attachment; filename="events-[0-9TZ-]+\.csv"$/)
    const [header, ...records] = parse(res.body) as string[][]
    t.same(header, CSV_HEADER, 'common fields, then event_specificdetails')
    compareAll(t, records.map((record) => csvRecordToEvent(CSV_HEADER, record)), ascending().map(expectedEvent),
      'fields with commas, quotes and line breaks round-trip through a CSV parser')
  })
})
