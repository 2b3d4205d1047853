import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { MongoClient } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { buildApp, serverOptions } from '../../src/app.js'
import { createUser, MONGODB_URL, TEST_SECRET, testConfig, testDatabaseName, testUid } from '../helper.js'
import { json, signJwt, validEvent, type HostileCase, type HostileContext } from '../fixtures/hostile-case.js'
import { hostileQueries } from '../fixtures/hostile-queries.js'
import { hostileBodies } from '../fixtures/hostile-bodies.js'
import { hostileAuth } from '../fixtures/hostile-auth.js'
import { ERROR_CODES } from '../../src/errors.js'

/**
 * A corpus of a few hundred hostile requests against the real app on the real database, each with the
 * status it must get. None may be accepted (2xx) or answered 5xx; no answer may carry a stack trace, a
 * file path or a database message; nothing of them may be stored; and every log line stays one JSON
 * object. CR/LF, ANSI escapes and NUL in string values are not hostile: they are stored verbatim.
 */

// every log line the app writes, captured as written (a pino destination stream)
const logLines: string[] = []
const logStream = new Writable({
  write (chunk: Buffer, _encoding, done) {
    logLines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''))
    done()
  }
})

const config = testConfig({ LOG_LEVEL: 'info', LOGIN_MAX_PER_IP: 100000, LOGIN_MAX_FAILURES: 100000 })
const logger = { ...(serverOptions(config).logger as object), level: 'info', stream: logStream }
const app: FastifyInstance = await buildApp({ config }, { logger })
t.teardown(async () => {
  await app.close()
  const client = new MongoClient(MONGODB_URL)
  try { await client.db(testDatabaseName).dropDatabase() } finally { await client.close() }
})
await app.ready()

const ALL_ROLES = ['admin', 'writer', 'reader'] as const
await createUser(app, { username: 'hostile-all', roles: [...ALL_ROLES], tenant: 'tenant-a' })
await createUser(app, { username: 'hostile-reader', roles: ['reader'], tenant: 'tenant-a' })
await createUser(app, { username: 'hostile-writer', roles: ['writer'], tenant: 'tenant-a' })
await createUser(app, { username: 'hostile-other', roles: [...ALL_ROLES], tenant: 'tenant-b' })

function validClaims (username = 'hostile-all', tenant = 'tenant-a', roles: readonly string[] = ALL_ROLES): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    sub: username,
    tenant,
    roles: [...roles],
    ver: 0,
    uid: testUid(username),
    jti: randomUUID(),
    iat: now,
    exp: now + 900,
    iss: config.JWT_ISSUER,
    aud: config.JWT_AUDIENCE
  }
}
const sign = (claims: Record<string, unknown>, options: { secret?: string, header?: Record<string, unknown> } = {}) =>
  signJwt(claims, options.secret ?? TEST_SECRET, options.header)
const auth = {
  all: `Bearer ${sign(validClaims())}`,
  reader: `Bearer ${sign(validClaims('hostile-reader', 'tenant-a', ['reader']))}`,
  writer: `Bearer ${sign(validClaims('hostile-writer', 'tenant-a', ['writer']))}`,
  otherTenant: `Bearer ${sign(validClaims('hostile-other', 'tenant-b'))}`
}

async function send (testCase: HostileCase) {
  const authorization = testCase.authorization === undefined ? auth.all : testCase.authorization
  return await app.inject({
    method: testCase.method,
    url: testCase.url,
    headers: { ...(authorization === null ? {} : { authorization }), ...testCase.headers },
    ...(testCase.payload === undefined ? {} : { payload: testCase.payload })
  })
}

async function seed (authorization: string): Promise<{ id: string, cursor: string }> {
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await send({ ...json('POST', '/events', validEvent({ event_id: `seed-${i}` }), 201, 'seed'), authorization })
    ids.push(res.json().id)
  }
  const page = await send({ name: 'page', method: 'GET', url: '/events?limit=1', authorization, expect: 200 })
  return { id: ids[0] as string, cursor: page.json().next_cursor }
}

const mine = await seed(auth.all)
const theirs = await seed(auth.otherTenant)
const context: HostileContext = {
  auth,
  sign,
  validClaims: () => validClaims(),
  eventId: mine.id,
  otherTenantEventId: theirs.id,
  cursor: mine.cursor,
  otherTenantCursor: theirs.cursor
}

const events = () => app.mongo.db!.collection('events')
const users = () => app.mongo.db!.collection('users')

/** What must never reach a client: stack frames, source paths, database messages. */
const LEAKS: Array<[RegExp, string]> = [
  [/\bat [\w$.<>]+ \(/, 'a stack frame'],
  [/\bat (file:\/\/|\/)\S+:\d+:\d+/, 'a stack frame'],
  [/\/work\/|node_modules|file:\/\/|\.ts:\d+/, 'a source path'],
  [/duplicate key error|MongoServerError|MongoError|MongoNetworkError|FerretDB|ferretdb|BSON|SQLite/i, 'a database message']
]

t.test('the controls pass: the corpus\'s tokens, cursor and bodies are valid but for what each case breaks', async (t) => {
  t.equal(
    (await send({ name: 'control', method: 'GET', url: '/me', expect: 200 })).statusCode,
    200,
    "a token signed like the corpus's forgeries works when nothing is forged"
  )
  t.equal(
    (await send({ name: 'control', method: 'GET', url: `/events?limit=1&cursor=${mine.cursor}`, expect: 200 })).statusCode,
    200,
    'the real cursor works'
  )
  t.equal(
    (await send({ name: 'control', method: 'GET', url: `/events/${mine.id}`, expect: 200 })).statusCode,
    200,
    'the seeded id is found'
  )
  const control = await send(json('POST', '/events', validEvent({ location: 'control' }), 201, 'control'))
  t.equal(control.statusCode, 201, 'the corpus\'s base event is accepted')
  await events().deleteOne({ location: 'control' })
})

t.test('hostile inputs: each gets its expected 4xx, none is accepted or answered 5xx, none leaks internals', async (t) => {
  const eventsBefore = await events().countDocuments({})
  const usersBefore = await users().countDocuments({})
  const corpus = [...hostileQueries(context), ...hostileBodies(), ...hostileAuth(context)]
  t.ok(corpus.length >= 200, `at least 200 hostile inputs (${corpus.length})`)

  let accepted = 0
  let serverErrors = 0
  let mismatches = 0
  const codes = new Set<string>()
  for (const testCase of corpus) {
    const res = await send(testCase)
    if (res.statusCode >= 200 && res.statusCode < 300) accepted++
    if (res.statusCode >= 500) serverErrors++
    if (res.statusCode !== testCase.expect) {
      mismatches++
      t.fail(`${testCase.name}: expected ${testCase.expect}, got ${res.statusCode} ${res.body.slice(0, 200)}`)
      continue
    }
    for (const [pattern, what] of LEAKS) {
      if (pattern.test(res.body)) t.fail(`${testCase.name}: the answer contains ${what}: ${res.body.slice(0, 300)}`)
    }
    const body = res.json()
    if (body.statusCode !== res.statusCode || typeof body.code !== 'string' || typeof body.message !== 'string') {
      t.fail(`${testCase.name}: not an Error body: ${res.body.slice(0, 200)}`)
    }
    if (!(ERROR_CODES as readonly string[]).includes(body.code)) {
      t.fail(`${testCase.name}: code ${String(body.code)} is not one of the documented codes`)
    }
    codes.add(body.code)
  }
  t.comment(`codes answered: ${[...codes].sort().join(', ')}`)
  t.equal(mismatches, 0, 'every hostile input got its expected status')

  const summary = `${corpus.length} bad inputs tried, ${accepted} accepted, ${serverErrors} answered 5xx`
  console.log(summary)
  t.equal(summary, `${corpus.length} bad inputs tried, 0 accepted, 0 answered 5xx`)

  t.equal(await events().countDocuments({}), eventsBefore, 'no hostile request stored an event')
  t.equal(await users().countDocuments({}), usersBefore, 'no hostile request created or deleted a user')
  const reader = await users().findOne({ username: 'hostile-reader' })
  t.same(reader?.roles, ['reader'], 'no hostile request changed a user\'s roles')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was not polluted')
  t.equal((Object.prototype as Record<string, unknown>).roles, undefined, 'Object.prototype has no roles')
})

t.test('a details path named __proto__ is a filter that matches nothing, not a pollution', async (t) => {
  const res = await send({ name: 'proto filter', method: 'GET', url: '/events?details.__proto__.polluted=1', expect: 200 })
  t.equal(res.statusCode, 200)
  t.same(res.json().items, [])
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('CR/LF, ANSI escapes, NUL and line separators in string fields are stored verbatim and read back identically', async (t) => {
  const tricky = {
    event_type: 'Login\r\nSucceeded',
    username: '\u001b[31madmin\u001b[0m',
    entitytype: 'session\u0000hidden',
    location: 'Berlin\n{"level":60,"msg":"forged"}',
    description: '\u001b]0;title\u0007 line one\u2028line two\u2029\r\n\ttabbed \u001b[2J',
    event_id: `verbatim-\r\n-${randomUUID()}`,
    event_specificdetails: { note: 'a\r\nb\u001b[0m\u0000c', nested: { 'key with\r\nnewline': '\u0007bell' } }
  }
  const posted = await send(json('POST', '/events', validEvent(tricky), 201, 'tricky'))
  t.equal(posted.statusCode, 201)
  const id = posted.json().id

  const one = await send({ name: 'read back', method: 'GET', url: `/events/${id}`, expect: 200 })
  t.equal(one.statusCode, 200)
  t.match(one.json(), tricky, 'GET /events/:id returns every field as sent')

  const byValue = await send({
    name: 'filter',
    method: 'GET',
    url: `/events?location=${encodeURIComponent(tricky.location)}&username=${encodeURIComponent(tricky.username)}`,
    expect: 200
  })
  t.equal(byValue.statusCode, 200)
  t.same(byValue.json().items.map((event: { id: string }) => event.id), [id], 'filtering on the exact values finds it')

  const exported = await send({
    name: 'export',
    method: 'GET',
    url: `/events/export?event_id=${encodeURIComponent(tricky.event_id)}`,
    expect: 200
  })
  t.equal(exported.statusCode, 200)
  const lines = exported.body.split('\n').filter((line) => line !== '')
  t.equal(lines.length, 1, 'the NDJSON export is still one line per event')
  t.match(JSON.parse(lines[0] as string), tricky, 'and that line holds the fields as sent')

  const stored = await events().findOne({ event_id: tricky.event_id })
  t.match(stored, tricky, 'the database holds them as sent')
})

t.test('every log line is one JSON object: CR/LF and forged log lines in requests never split or forge one', async (t) => {
  // a refused parameter name with CR/LF and a forged line, so the refusal is logged with it
  const res = await send({
    name: 'log',
    method: 'GET',
    url: '/events?x%0D%0A%7B%22level%22%3A60%2C%22msg%22%3A%22forged%22%7D=1',
    expect: 400
  })
  t.equal(res.statusCode, 400)
  t.ok(logLines.length > 100, `the app logged (${logLines.length} lines)`)
  let unparsable = 0
  for (const line of logLines) {
    let entry: Record<string, unknown>
    try {
      entry = JSON.parse(line)
    } catch {
      unparsable++
      continue
    }
    if (entry.msg === 'forged') t.fail(`a forged log line: ${line}`)
    for (const key of ['level', 'time', 'msg']) if (!(key in entry)) t.fail(`a log line without ${key}: ${line.slice(0, 200)}`)
  }
  t.equal(unparsable, 0, 'no log line fails to parse as JSON')
  t.ok(logLines.some((line) => line.includes('\\r\\n{\\"level\\":60')), 'the refused name is in the log, escaped within its line')
  t.notOk(logLines.some((line) => line.includes(TEST_SECRET)), 'the signing secret never reaches the log')
  t.notOk(logLines.some((line) => line.includes(auth.all.slice(7))), 'tokens never reach the log')
})
