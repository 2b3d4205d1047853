import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build, sampleEvent, TEST_PASSWORD, userWithToken } from '../helper.js'
import { SseClient } from '../fixtures/sse-client.js'

/**
 * The log audits its readers and admins: each read and admin route leaves an audit.* event in the
 * caller's own tenant, with who, from where, on which route, and the specifics; never a password.
 */
interface AuditEvent {
  event_type: string
  username: string
  ip: string
  entitytype: string
  location: string
  description: string
  submitted_by: string
  tenant: string
  event_specificdetails: Record<string, unknown>
}

async function auditEvents (app: FastifyInstance, tenant: string, eventType: string): Promise<AuditEvent[]> {
  // read straight from the database: a read through the API would record itself
  const docs = await app.eventStore.collection.find({ tenant, event_type: eventType }).sort({ seq: 1 }).toArray()
  return docs as unknown as AuditEvent[]
}

t.test('reads and admin actions record audit events', async (t) => {
  const app = await build(t, { config: { AUDIT_ACCESS: true } })
  const admin = await userWithToken(app, { username: 'audit-admin', roles: ['admin', 'reader', 'writer'], tenant: 'tenant-au' })
  const other = await userWithToken(app, { username: 'other-reader', roles: ['reader'], tenant: 'tenant-other' })
  const stored = await app.inject({ method: 'POST', url: '/events', headers: bearer(admin), payload: sampleEvent({ username: 'user-x' }) })
  t.equal(stored.statusCode, 201)

  await t.test('GET /events records the filter and the count shown', async (t) => {
    const res = await app.inject({
      method: 'GET',
      url: '/events?username=user-x&details%5Baccount_number%5D=94859&limit=5',
      headers: bearer(admin)
    })
    t.equal(res.statusCode, 200)
    const [event] = await auditEvents(app, 'tenant-au', 'audit.read.events')
    t.ok(event, 'an audit.read.events event is stored before the answer')
    t.equal(event?.username, 'audit-admin', 'username is the principal')
    t.equal(event?.submitted_by, 'audit-admin')
    t.equal(event?.ip, '127.0.0.1', 'ip is the client')
    t.equal(event?.entitytype, 'event')
    t.equal(event?.location, 'GET /events', 'location is the route')
    t.match(event?.description, /audit-admin searched the events and was shown 1/)
    t.same(event?.event_specificdetails, {
      filter: { username: ['user-x'], limit: 5, order: 'desc', details: [{ path: 'account_number', values: ['94859'] }] },
      result_count: 1,
      next_page: false,
      continued: false
    }, 'the filter and the result count')
    t.equal((await auditEvents(app, 'tenant-other', 'audit.read.events')).length, 0, 'nothing lands in another tenant')
  })

  await t.test('the audit events answer "who read events about user X"', async (t) => {
    await app.inject({ method: 'GET', url: '/events?username=someone-else', headers: bearer(admin) })
    const since = new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString()
    const res = await app.inject({
      method: 'GET',
      url: `/events?event_type=audit.read.events&event_type=audit.read.export&details%5Bfilter%5D%5Busername%5D=user-x&timeStart=${since}`,
      headers: bearer(admin)
    })
    t.equal(res.statusCode, 200)
    const items = res.json().items as AuditEvent[]
    t.same(
      items.map((item) => [item.event_type, item.username]),
      [['audit.read.events', 'audit-admin']],
      'only the read that asked about user-x'
    )
  })

  await t.test('GET /events/{id} and the export record theirs; the export its count when it ends', async (t) => {
    t.equal((await app.inject({ method: 'GET', url: `/events/${stored.json().id as string}`, headers: bearer(admin) })).statusCode, 200)
    const [read] = await auditEvents(app, 'tenant-au', 'audit.read.event')
    t.same([read?.location, read?.event_specificdetails], ['GET /events/:id', { event: stored.json().id }])

    const res = await app.inject({ method: 'GET', url: '/events/export?format=csv&username=user-x', headers: bearer(admin) })
    t.equal(res.statusCode, 200)
    const [start] = await auditEvents(app, 'tenant-au', 'audit.read.export')
    t.match(start?.event_specificdetails, { format: 'csv', filter: { username: ['user-x'] } }, 'format and filter')
    // the end is recorded after the last byte, not awaited by the answer: wait for the write path to settle it
    await app.eventWriter.drain()
    let finished: AuditEvent[] = []
    for (let i = 0; i < 100 && finished.length === 0; i++) {
      finished = await auditEvents(app, 'tenant-au', 'audit.read.export_finished')
      if (finished.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.match(finished[0]?.event_specificdetails, { format: 'csv', result_count: 1, finished: true }, 'the count streamed')
  })

  await t.test('a live stream records its opening before the first byte, and its count when it ends', async (t) => {
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const client = new SseClient(`${url}/events/stream?afterSeq=0&username=user-x`, bearer(admin))
    t.teardown(() => client.close())
    await client.until(() => client.status !== 0, 'the answer starts')
    t.equal(client.status, 200)
    const [opened] = await auditEvents(app, 'tenant-au', 'audit.read.stream')
    t.same(
      [opened?.location, opened?.event_specificdetails],
      ['GET /events/stream', { filter: { username: ['user-x'] }, after_seq: 0 }],
      'stored before the answer: the filter and the position'
    )
    // the one event about user-x, then the client goes away
    await client.until(() => client.events().length === 1, 'the event about user-x')
    await client.close()
    let ended: AuditEvent[] = []
    for (let i = 0; i < 200 && ended.length === 0; i++) {
      ended = await auditEvents(app, 'tenant-au', 'audit.read.stream_ended')
      if (ended.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.match(
      ended[0]?.event_specificdetails,
      { result_count: 1, last_seq: stored.json().seq, reason: 'client_closed' },
      'the count sent and why it ended'
    )
  })

  await t.test('completeness and GET /users record theirs', async (t) => {
    t.equal((await app.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(admin) })).statusCode, 200)
    t.match((await auditEvents(app, 'tenant-au', 'audit.read.completeness'))[0], {
      location: 'GET /integrity/completeness',
      entitytype: 'event_log',
      event_specificdetails: { complete: true }
    })
    t.equal((await app.inject({ method: 'GET', url: '/users', headers: bearer(admin) })).statusCode, 200)
    t.match((await auditEvents(app, 'tenant-au', 'audit.read.users'))[0], {
      location: 'GET /users',
      entitytype: 'user',
      event_specificdetails: { result_count: 1 }
    })
  })

  await t.test('user administration is recorded, never the password', async (t) => {
    const created = await app.inject({
      method: 'POST',
      url: '/users',
      headers: bearer(admin),
      payload: { username: 'bob', password: TEST_PASSWORD, roles: ['reader'] }
    })
    t.equal(created.statusCode, 201)
    const changed = await app.inject({
      method: 'PATCH',
      url: '/users/bob',
      headers: bearer(admin),
      payload: { roles: ['writer'], disabled: true, password: 'another long password' }
    })
    t.equal(changed.statusCode, 200)
    t.equal(
      (await app.inject({ method: 'PATCH', url: '/users/bob', headers: bearer(admin), payload: { disabled: false } })).statusCode,
      200
    )
    t.equal((await app.inject({ method: 'DELETE', url: '/users/bob', headers: bearer(admin) })).statusCode, 204)
    const expected: Array<[string, Record<string, unknown>]> = [
      ['audit.admin.user_created', { target_user: 'bob', roles: ['reader'] }],
      ['audit.admin.role_changed', { target_user: 'bob', roles: ['writer'] }],
      ['audit.admin.user_disabled', { target_user: 'bob' }],
      ['audit.admin.password_set', { target_user: 'bob' }],
      ['audit.admin.user_enabled', { target_user: 'bob' }],
      ['audit.admin.user_deleted', { target_user: 'bob' }]
    ]
    for (const [type, details] of expected) {
      const events = await auditEvents(app, 'tenant-au', type)
      t.equal(events.length, 1, `one ${type}`)
      t.same(events[0]?.event_specificdetails, details, `${type} details`)
      t.equal(events[0]?.entitytype, 'user')
    }
    const everything = JSON.stringify(await app.eventStore.collection.find({ tenant: 'tenant-au' }).toArray())
    t.notOk(everything.includes(TEST_PASSWORD) || everything.includes('another long password'), 'no password in any event')
    t.notOk(everything.includes(admin), 'no token in any event')
  })

  await t.test('a refused login is recorded in the tenant it named, when that tenant exists', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      payload: { username: 'audit-admin', password: 'guessed-4711-secret', tenant: 'tenant-au' }
    })
    t.equal(res.statusCode, 401)
    const nowhere = await app.inject({
      method: 'POST',
      url: '/login',
      payload: { username: 'x', password: 'wrong password, long', tenant: 'no-such-tenant' }
    })
    t.equal(nowhere.statusCode, 401)
    let failed: AuditEvent[] = []
    for (let i = 0; i < 100 && failed.length === 0; i++) {
      failed = await auditEvents(app, 'tenant-au', 'audit.auth.login_failed')
      if (failed.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.match(failed[0], {
      username: 'audit-admin',
      entitytype: 'session',
      location: 'POST /login',
      event_specificdetails: { target_user: 'audit-admin' }
    })
    t.notOk(JSON.stringify(failed).includes('guessed-4711-secret'), 'not the password tried')
    await app.eventWriter.drain()
    t.equal(await app.eventStore.collection.countDocuments({ tenant: 'no-such-tenant' }), 0, 'no event for a tenant that does not exist')
  })

  await t.test('retention and legal hold changes are recorded with their reason', async (t) => {
    const approver = await userWithToken(app, { username: 'audit-approver', roles: ['admin'], tenant: 'tenant-au' })
    t.equal((await app.inject({ method: 'PUT', url: '/tenant/retention', headers: bearer(admin), payload: { days: 30 } })).statusCode, 200)
    t.equal(
      (
        await app.inject({
          method: 'PUT',
          url: '/tenant/legal-hold',
          headers: bearer(admin),
          payload: { active: true, reason: 'case 114' }
        })
      ).statusCode,
      200
    )
    t.equal(
      (
        await app.inject({
          method: 'PUT',
          url: '/tenant/legal-hold',
          headers: bearer(admin),
          payload: { active: false, reason: 'case 114 closed' }
        })
      ).statusCode,
      202,
      'one admin asks for the lift'
    )
    t.equal(
      (await app.inject({ method: 'POST', url: '/tenant/legal-hold/lift/approve', headers: bearer(approver) })).statusCode,
      200,
      'another approves it'
    )
    t.same((await auditEvents(app, 'tenant-au', 'audit.admin.retention_changed'))[0]?.event_specificdetails, {
      days: 30,
      previous_days: 0,
      locked: false
    })
    t.same((await auditEvents(app, 'tenant-au', 'audit.admin.legal_hold_set'))[0]?.event_specificdetails, {
      active: true,
      reason: 'case 114'
    })
    t.same((await auditEvents(app, 'tenant-au', 'audit.admin.legal_hold_lift_requested'))[0]?.event_specificdetails, {
      reason: 'case 114 closed',
      mode: 'two-admins'
    })
    t.match((await auditEvents(app, 'tenant-au', 'audit.admin.legal_hold_lifted'))[0]?.event_specificdetails, {
      active: false,
      reason: 'case 114 closed',
      requested_by: 'audit-admin',
      approved_by: 'audit-approver',
      request: Number
    })
  })

  await t.test('a refused read records nothing', async (t) => {
    const before = await auditEvents(app, 'tenant-other', 'audit.read.event')
    t.equal((await app.inject({ method: 'GET', url: `/events/${stored.json().id as string}`, headers: bearer(other) })).statusCode, 404)
    t.equal((await auditEvents(app, 'tenant-other', 'audit.read.event')).length, before.length)
  })
})

t.test('clients cannot submit events in the audit namespace', async (t) => {
  const app = await build(t, { config: { AUDIT_ACCESS: true } })
  const writer = await userWithToken(app, { username: 'ns-writer', roles: ['writer'], tenant: 'tenant-ns' })
  for (const eventType of ['audit.read.events', 'AUDIT.admin.user_created', 'Audit.anything']) {
    const res = await app.inject({
      method: 'POST',
      url: '/events',
      headers: bearer(writer),
      payload: sampleEvent({ event_type: eventType })
    })
    t.equal(res.statusCode, 400, `${eventType} is refused`)
    t.match(res.json(), { code: 'VALIDATION_FAILED', message: /^body\/event_type must not start with "audit\."/ })
  }
  const batch = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(writer),
    payload: { events: [sampleEvent(), sampleEvent({ event_type: 'audit.x' })] }
  })
  t.equal(batch.statusCode, 400)
  t.match(batch.json().message, /^body\/events\/1\/event_type/, 'the batch index is named')
  t.equal(await app.eventStore.collection.countDocuments({ tenant: 'tenant-ns' }), 0, 'nothing stored')
  t.equal(
    (await app.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: sampleEvent({ event_type: 'auditing.done' }) }))
      .statusCode,
    201,
    'only the audit. prefix is reserved'
  )
})

t.test('a read whose audit event cannot be stored fails instead of answering unrecorded', async (t) => {
  // one event waits for company for up to a second and fills the queue: the read's audit event finds no room
  const app = await build(t, {
    config: { AUDIT_ACCESS: true, INGEST_QUEUE_LIMIT: 1, GROUP_COMMIT_MAX_BATCH: 100, GROUP_COMMIT_MAX_WAIT_MS: 1000 }
  })
  const reader = await userWithToken(app, { username: 'full-reader', roles: ['reader'], tenant: 'tenant-full' })
  const pending = app.eventWriter.write({ tenant: 'tenant-full', username: 'w' }, [sampleEvent() as never])
  const res = await app.inject({ method: 'GET', url: '/events', headers: bearer(reader) })
  t.equal(res.statusCode, 503, 'the read is refused')
  t.equal(res.json().code, 'SERVICE_OVERLOADED')
  t.notOk(res.body.includes('items'), 'no events in the answer')
  await pending
})
