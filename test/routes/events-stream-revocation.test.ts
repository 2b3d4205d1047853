import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, bearer, sampleEvent, userWithToken } from '../helper.js'
import { SseClient } from '../fixtures/sse-client.js'

/**
 * Revocation reaches open streams (issue #28): a stream whose user is disabled, deleted, loses the reader role
 * or changes password ends with `event: end` (reason `revoked`), and no event written more than AUTH_CACHE_MS
 * after the revocation is delivered on it, as GET /me stops answering for the same token.
 */
const AUTH_CACHE_MS = 200
/**
 * How long a revoked stream may take to end (the design's bound is AUTH_CACHE_MS + 250 ms here), and an event to
 * arrive: a loaded machine gets slack.
 */
const END_WITHIN_MS = 30000

interface Setup { app: FastifyInstance, url: string, admin: string, writer: string, reader: string, other: string, tenant: string }

let tenants = 0
async function setup (t: Test): Promise<Setup> {
  const app = await build(t, { config: { STREAM_POLL_MS: 20, SEQUENCE_FOLD_MS: 50, AUTH_CACHE_MS } })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const tenant = `revoke-${++tenants}`
  const admin = await userWithToken(app, { username: `admin-${tenant}`, roles: ['admin'], tenant })
  const writer = await userWithToken(app, { username: `writer-${tenant}`, roles: ['writer'], tenant })
  const reader = await userWithToken(app, { username: `reader-${tenant}`, roles: ['reader'], tenant })
  const other = await userWithToken(app, { username: `other-${tenant}`, roles: ['reader'], tenant })
  return { app, url, admin, writer, reader, other, tenant }
}

async function post (s: Setup, count: number): Promise<number[]> {
  const events = Array.from({ length: count }, () => sampleEvent())
  const response = await s.app.inject({ method: 'POST', url: '/events/batch', headers: bearer(s.writer), payload: { events } })
  if (response.statusCode !== 200) throw new Error(`batch answered ${response.statusCode}: ${response.body}`)
  return (response.json() as { items: Array<{ seq: number }> }).items.map((item) => item.seq)
}

async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

const revocations: Record<string, (s: Setup) => Promise<void>> = {
  disabled: async (s) => { await changeUser(s, { disabled: true }) },
  deleted: async (s) => {
    const response = await s.app.inject({ method: 'DELETE', url: `/users/reader-${s.tenant}`, headers: bearer(s.admin) })
    if (response.statusCode !== 204) throw new Error(`delete answered ${response.statusCode}: ${response.body}`)
  },
  'role removed': async (s) => { await changeUser(s, { roles: ['writer'] }) },
  'password changed': async (s) => { await changeUser(s, { password: 'a new password, long enough for the policy' }) }
}

async function changeUser (s: Setup, changes: Record<string, unknown>): Promise<void> {
  const response = await s.app.inject({ method: 'PATCH', url: `/users/reader-${s.tenant}`, headers: bearer(s.admin), payload: changes })
  if (response.statusCode !== 200) throw new Error(`patch answered ${response.statusCode}: ${response.body}`)
}

for (const [kind, revoke] of Object.entries(revocations)) {
  t.test(`a stream ends when its user is ${kind}, and delivers nothing written AUTH_CACHE_MS after`, async (t) => {
    const s = await setup(t)
    const stream = new SseClient(`${s.url}/events/stream`, bearer(s.reader))
    const bystander = new SseClient(`${s.url}/events/stream`, bearer(s.other))
    t.teardown(() => stream.close())
    t.teardown(() => bystander.close())
    // both live before the first write: a stream without a position starts after what is claimed when it opens
    await within(stream.until(() => stream.status !== 0, 'the answer starts'), END_WITHIN_MS, 'the answer starts')
    await within(bystander.until(() => bystander.status !== 0, 'the answer starts'), END_WITHIN_MS, 'the answer starts')
    const before = await post(s, 2)
    await within(stream.until(() => stream.events().length >= 2, 'the events before'), END_WITHIN_MS, 'the events before')

    await revoke(s)
    const revokedAt = Date.now()
    // events keep coming while the stream lives: those whose write began AUTH_CACHE_MS after the revocation must not arrive
    const late: number[] = []
    let written = 0
    while (!stream.ended && Date.now() - revokedAt < END_WITHIN_MS) {
      const startedAt = Date.now()
      const seqs = await post(s, 1)
      written += seqs.length
      if (startedAt >= revokedAt + AUTH_CACHE_MS) late.push(...seqs)
      await sleep(25)
    }
    await within(stream.finished(), 1000, 'the revoked stream ends')
    const took = Date.now() - revokedAt
    t.equal((await s.app.inject({ method: 'GET', url: '/me', headers: bearer(s.reader) })).statusCode, 401, 'GET /me refuses the token')

    const end = stream.messages.find((m) => m.event === 'end')
    t.match(JSON.parse(end?.data ?? '{}'), { reason: 'revoked' }, 'the last message says why')
    const delivered = stream.events().map((e) => e.seq)
    t.same(delivered.filter((seq) => late.includes(seq)), [], 'nothing written after revocation + AUTH_CACHE_MS was delivered')
    t.same(delivered.slice(0, 2), before, 'what came before was delivered')
    t.ok(took < END_WITHIN_MS, `ended ${took} ms after the revocation`)
    const all = 2 + written + (await post(s, 1)).length
    await within(bystander.until(() => bystander.events().length >= all, 'every event'), END_WITHIN_MS, 'the other stream goes on')
    t.notOk(bystander.ended, "another user's stream goes on")
  })
}

t.test('an idle stream ends when its user is revoked, without any event to deliver', async (t) => {
  const s = await setup(t)
  const stream = new SseClient(`${s.url}/events/stream`, bearer(s.reader))
  t.teardown(() => stream.close())
  await within(stream.until(() => stream.status !== 0, 'the answer starts'), END_WITHIN_MS, 'the answer starts')
  t.equal(stream.status, 200)
  await changeUser(s, { disabled: true })
  await within(stream.finished(), END_WITHIN_MS, 'the idle revoked stream ends')
  t.match(JSON.parse(stream.messages.find((m) => m.event === 'end')?.data ?? '{}'), { resume_after_seq: 0, reason: 'revoked' })
  while (s.app.eventStreams.slots.active > 0) await sleep(20)
  t.pass('its slot is given back')
})
