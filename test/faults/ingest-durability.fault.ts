import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { MongoClient, ObjectId } from 'mongodb'
import { freePort, startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/embedded/ferretdb.js'
import { MONGODB_URL, TEST_SECRET, bearer, build, sampleEvent, testDatabaseName, userWithToken } from '../helper.js'

/**
 * Lossless ingestion when things go wrong: the database stops while events arrive, and the server gets
 * SIGTERM with requests in flight. In both, every event answered 2xx must be in the database afterwards.
 */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url))

interface Answer { status: number, id?: string, body?: Record<string, unknown>, retryAfter?: string }

/** Polls until the condition holds; fails the wait (not a timing assertion) after a generous deadline. */
async function waitFor (what: string, condition: () => boolean, deadlineMs = 30000): Promise<void> {
  const deadline = Date.now() + deadlineMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await sleep(20)
  }
}

t.test('database stopped mid-run: 503s with Retry-After, never another 5xx, and every 2xx event survives', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ingest-durability-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const quiet = { log: () => {} }
  let db: EmbeddedDatabase = await startEmbeddedDatabase({ dataDir, ...quiet })
  t.teardown(() => db.stop())

  const app = await build(t, { config: { MONGODB_URL: db.url, DB_TIMEOUT_MS: 1000 } })
  const token = await userWithToken(app, { username: 'durable-writer', roles: ['writer'], tenant: 'tenant-d' })

  const answers: Answer[] = []
  let phase: 'up' | 'down' | 'restarted' = 'up'
  const byPhase = { up: 0, down: 0, restarted: 0 }
  const run = { going: true }
  let sequence = 0
  async function worker (): Promise<void> {
    while (run.going) {
      const eventId = `durable-${++sequence}`
      const sentIn = phase
      const res = await app.inject({ method: 'POST', url: '/events', headers: bearer(token), payload: sampleEvent({ event_id: eventId }) })
      const body = res.json() as Record<string, unknown>
      answers.push({
        status: res.statusCode,
        id: typeof body.id === 'string' ? body.id : undefined,
        body,
        retryAfter: res.headers['retry-after'] as string | undefined
      })
      if (res.statusCode < 300 && sentIn === phase) byPhase[phase]++
      if (res.statusCode >= 300) await sleep(10)
    }
  }
  const workers = Array.from({ length: 20 }, () => worker())

  await waitFor('events acknowledged before the stop', () => byPhase.up >= 50)
  phase = 'down'
  await db.stop()
  const answeredBeforeDown = answers.length
  await waitFor('503s while the database is down', () => answers.slice(answeredBeforeDown).filter((a) => a.status === 503).length >= 20)

  db = await startEmbeddedDatabase({ dataDir, port: db.port, ...quiet })
  phase = 'restarted'
  const answeredBeforeRestart = answers.length
  await waitFor('events acknowledged after the restart', () => byPhase.restarted >= 10).catch((err: Error) => {
    // what the service answered meanwhile says where it is stuck
    const since = answers.slice(answeredBeforeRestart)
    const codes = since.map((a) => `${a.status} ${String(a.body?.code ?? '')}`)
    throw new Error(
      `${err.message}: ${since.length} answers since, ${JSON.stringify(Object.fromEntries([...new Set(codes)].map((c) => [c, codes.filter((x) => x === c).length])))}, writer depth ${app.eventWriter.depth}`
    )
  })
  run.going = false
  await Promise.all(workers)

  const statuses = new Set(answers.map((a) => a.status))
  t.ok([...statuses].every((status) => [200, 201, 503].includes(status)), `only 2xx and 503 (got ${[...statuses].join(', ')})`)
  const unavailable = answers.filter((a) => a.status === 503)
  t.ok(unavailable.length >= 20, `${unavailable.length} answers were 503`)
  for (const answer of unavailable) {
    t.equal(answer.retryAfter, '1', 'a 503 says when to retry')
    t.match(answer.body, {
      statusCode: 503,
      code: /^(DATABASE_UNAVAILABLE|SERVICE_OVERLOADED)$/,
      error: 'Service Unavailable',
      message: String,
      requestId: String
    })
  }

  const acknowledged = answers.filter((a) => a.status === 200 || a.status === 201).map((a) => a.id as string)
  t.ok(acknowledged.length >= 60, `${acknowledged.length} events acknowledged`)
  const found = await app.eventStore.collection.countDocuments({ _id: { $in: acknowledged.map((id) => new ObjectId(id)) } })
  t.equal(found, new Set(acknowledged).size, 'every acknowledged event is stored after the restart')
  await app.close()
})

t.test('SIGTERM with requests in flight: pending events are written and answered, the process exits 0', async (t) => {
  const helperApp = await build(t)
  const token = await userWithToken(helperApp, { username: 'sigterm-writer', roles: ['writer'], tenant: 'tenant-sig' })
  const port = await freePort()
  const grace = 10000
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      MONGODB_URL,
      MONGODB_DATABASE: testDatabaseName,
      JWT_SECRET: TEST_SECRET,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: String(grace),
      // events wait in the queue long enough that SIGTERM surely finds some there
      GROUP_COMMIT_MAX_WAIT_MS: '50'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  server.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  server.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const child = { exited: false }
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => server.once('exit', (code, signal) => {
    child.exited = true
    resolve({ code, signal })
  }))
  t.teardown(() => { if (!child.exited) server.kill('SIGKILL') })

  const base = `http://127.0.0.1:${port}`
  let ready = false
  const startDeadline = Date.now() + 60000
  while (!ready && !child.exited && Date.now() < startDeadline) {
    ready = await fetch(`${base}/health/live`).then((res) => res.ok, () => false)
    if (!ready) await sleep(100)
  }
  t.ok(ready, 'the server started')
  if (!ready) {
    t.comment(output)
    return
  }

  const acknowledged: string[] = []
  let signalled = false
  let sequence = 0
  let inFlightAtSignal = 0
  let inFlightAcknowledged = 0
  async function worker (): Promise<void> {
    while (!child.exited) {
      const sentBeforeSignal = !signalled
      let response: Response
      try {
        response = await fetch(`${base}/events`, {
          method: 'POST',
          headers: { ...bearer(token), 'content-type': 'application/json' },
          body: JSON.stringify(sampleEvent({ event_id: `sig-${++sequence}` }))
        })
      } catch {
        // connection refused or closed: no answer, so no promise was made
        if (signalled) return
        continue
      }
      const body = await response.json().catch(() => ({})) as { id?: string }
      const inFlight = sentBeforeSignal && signalled
      if (inFlight) inFlightAtSignal++
      if (response.status === 200 || response.status === 201) {
        acknowledged.push(body.id as string)
        if (inFlight) inFlightAcknowledged++
      } else if (signalled) {
        return
      } else {
        t.fail(`unexpected ${response.status} before SIGTERM`)
        return
      }
    }
  }
  const workers = Array.from({ length: 30 }, () => worker())
  await waitFor('events acknowledged before SIGTERM', () => acknowledged.length >= 50 || child.exited)
  signalled = true
  server.kill('SIGTERM')

  // a generous bound for a loaded machine; unref'd so it does not hold the test process open
  const result = await Promise.race([exited, sleep(grace + 20000, null, { ref: false })])
  await Promise.all(workers)
  t.ok(result !== null, 'the process exited')
  t.same(result, { code: 0, signal: null }, 'with code 0, within SHUTDOWN_GRACE_MS')
  if (result?.code !== 0) t.comment(output)
  t.ok(inFlightAtSignal > 0, `${inFlightAtSignal} requests were in flight at SIGTERM`)
  t.ok(inFlightAcknowledged > 0, `${inFlightAcknowledged} of them were still written and answered 2xx`)

  const client = new MongoClient(MONGODB_URL)
  try {
    const ids = acknowledged.map((id) => new ObjectId(id))
    const found = await client.db(testDatabaseName).collection('events').countDocuments({ _id: { $in: ids } })
    t.equal(found, new Set(acknowledged).size, `every one of the ${acknowledged.length} acknowledged events is stored`)
  } finally {
    await client.close()
  }
})
