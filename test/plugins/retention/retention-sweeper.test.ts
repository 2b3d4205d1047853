import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'
import type { EventInput } from '../../../src/schemas/event.js'
import { retentionChanged } from '../../../src/plugins/app/retention/policy-entries.js'
import { recordEntry } from '../../../src/plugins/app/audit/audit-trail.js'

/**
 * The retention sweeper, on the real database, with a clock and a pause the tests control: it deletes
 * exactly the expired events, oldest seq first, in batches; a legal hold stops it between two batches;
 * of two replicas only one sweeps; a crash between recording a horizon and deleting is repaired; and the
 * completeness report tells expired seqs from missing ones.
 */
const DAY = 24 * 3600 * 1000
const T0 = new Date('2026-01-01T00:00:00.000Z')
const config = { RETENTION_BATCH_SIZE: 3, SEQUENCE_FOLD_MS: 20 }

async function writeAt (app: FastifyInstance, tenant: string, count: number, at: Date): Promise<void> {
  const inputs = Array.from({ length: count }, () => sampleEvent() as unknown as EventInput)
  const outcomes = await app.eventWriter.write({ tenant, username: 'w' }, inputs, at)
  if (outcomes.some((outcome) => outcome.status !== 'created')) throw new Error('a test event was not stored')
}

async function seqsOf (app: FastifyInstance, tenant: string): Promise<number[]> {
  return (await app.eventStore.collection.find({ tenant }, { projection: { seq: 1 } }).sort({ seq: 1 }).toArray()).map((doc) => doc.seq)
}

/** Until the tenant's tree holds `seq`: the sweeper checks a policy's entry, and each event it expires, against the tree. */
async function inTree (app: FastifyInstance, tenant: string, seq: number): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    await app.sequencer.flush()
    if ((await app.merkleTrees.view(tenant)).size >= seq) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`the tree of ${tenant} never reached seq ${seq}`)
}

/** A policy as the route sets it: its entry in the tenant's log first, then the document naming it. */
async function setPolicy (app: FastifyInstance, tenant: string, days: number): Promise<number> {
  const entry = retentionChanged('an-admin', days, 0, false, false)
  const seq = await recordEntry(app.eventWriter, { tenant, username: 'an-admin' }, { ip: '0.0.0.0', location: 'test' }, entry)
  await app.tenantPolicies.setRetention(tenant, days, 'an-admin', { seq })
  await inTree(app, tenant, seq)
  return seq
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('the sweeper deletes exactly the expired events, oldest first, in batches', async (t) => {
  const app = await build(t, { config })
  const admin = await userWithToken(app, { username: 'ret-admin', roles: ['admin', 'reader'], tenant: 'tenant-r' })
  await writeAt(app, 'tenant-r', 7, T0)
  await writeAt(app, 'tenant-r', 5, new Date(T0.getTime() + 10 * DAY))
  await writeAt(app, 'tenant-forever', 4, T0)
  await app.sequencer.flush()
  const put = await app.inject({ method: 'PUT', url: '/tenant/retention', headers: bearer(admin), payload: { days: 30 } })
  t.equal(put.statusCode, 200)
  await inTree(app, 'tenant-r', put.json().policy_seq)
  await setPolicy(app, 'tenant-forever', 0)

  let pauses = 0
  app.retentionSweeper.pause = async () => { pauses++ }
  app.retentionSweeper.clock = () => new Date(T0.getTime() + 35 * DAY)
  const report = await app.retentionSweeper.sweep()
  t.equal(report.swept, true)
  t.same(report.tenants['tenant-r'], { deleted: 7, horizon: 8, held: false }, 'the 7 events older than 30 days, and no other')
  t.equal(pauses, 2, 'three batches of 3 seqs, with a pause between each two')
  t.same(await seqsOf(app, 'tenant-r'), range(8, 13), 'a whole leading range went: seqs 8..12 are left, and the policy entry at 13')
  t.notOk('tenant-forever' in report.tenants, 'a tenant kept forever is not even looked at')
  t.same(await seqsOf(app, 'tenant-forever'), range(1, 5), 'its four events and its policy entry')
  t.match(
    await app.tenantPolicies.retentionHorizon('tenant-r'),
    { horizon: 8, days: 30, expired_at: new Date(T0.getTime() + 35 * DAY) },
    'the horizon is recorded'
  )

  const completeness = await app.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(admin) })
  t.match(completeness.json(), {
    complete: true,
    count: 6,
    holes: [{ from: 1, to: 7, reason: 'expired_by_policy' }],
    retention_horizon: { seq: 8, days: 30 }
  }, 'completeness reports the expired prefix as expired by policy, not missing')
  const policy = await app.inject({ method: 'GET', url: '/tenant/retention', headers: bearer(admin) })
  t.match(policy.json(), { days: 30, default: false, horizon: { seq: 8, days: 30 } }, 'GET /tenant/retention shows the horizon')

  await t.test('a quiet tenant costs nothing until its oldest event is due', async (t) => {
    app.retentionSweeper.clock = () => new Date(T0.getTime() + 36 * DAY)
    const again = await app.retentionSweeper.sweep()
    t.notOk('tenant-r' in again.tenants, 'nothing is due before day 40: the tenant is skipped')
    app.retentionSweeper.clock = () => new Date(T0.getTime() + 41 * DAY)
    const due = await app.retentionSweeper.sweep()
    t.same(due.tenants['tenant-r'], { deleted: 5, horizon: 13, held: false }, 'once due, the rest goes')
    t.same(await seqsOf(app, 'tenant-r'), [13], 'but the policy entry, which is not due')
  })

  await t.test('an event deleted above the horizon by hand is still caught', async (t) => {
    await writeAt(app, 'tenant-r', 3, new Date(T0.getTime() + 41 * DAY))
    await app.sequencer.flush()
    await app.eventStore.collection.deleteOne({ tenant: 'tenant-r', seq: 14 })
    const report = (await app.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(admin) })).json()
    t.equal(report.complete, false)
    t.same(report.holes, [{ from: 1, to: 12, reason: 'expired_by_policy' }, { from: 14, to: 14, reason: 'unexplained' }])
  })
})

t.test('a legal hold set during a sweep stops it before its next batch', async (t) => {
  const app = await build(t, { config })
  const admin = await userWithToken(app, { username: 'hold-admin', roles: ['admin'], tenant: 'tenant-h' })
  const approver = await userWithToken(app, { username: 'hold-approver', roles: ['admin'], tenant: 'tenant-h' })
  await writeAt(app, 'tenant-h', 9, T0)
  await app.sequencer.flush()
  await setPolicy(app, 'tenant-h', 7)
  app.retentionSweeper.clock = () => new Date(T0.getTime() + 8 * DAY)
  app.retentionSweeper.pause = async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/tenant/legal-hold',
      headers: bearer(admin),
      payload: { active: true, reason: 'case 7' }
    })
    t.equal(res.statusCode, 200, 'the hold is set between the first and the second batch')
  }
  const held = await app.retentionSweeper.sweep()
  t.same(held.tenants['tenant-h'], { deleted: 3, horizon: 4, held: true }, 'the first batch only')
  t.same(await seqsOf(app, 'tenant-h'), range(4, 11), 'and the policy and hold entries at 10 and 11')
  t.same((await app.retentionSweeper.sweep()).tenants['tenant-h'], { deleted: 0, horizon: 4, held: true }, 'while held, nothing')

  app.retentionSweeper.pause = async () => {}
  t.equal(
    (
      await app.inject({
        method: 'PUT',
        url: '/tenant/legal-hold',
        headers: bearer(admin),
        payload: { active: false, reason: 'case 7 closed' }
      })
    ).statusCode,
    202,
    'one admin asks for the lift'
  )
  t.same((await app.retentionSweeper.sweep()).tenants['tenant-h'], { deleted: 0, horizon: 4, held: true }, 'the hold stays until approved')
  const approved = await app.inject({ method: 'POST', url: '/tenant/legal-hold/lift/approve', headers: bearer(approver) })
  t.equal(approved.statusCode, 200, 'another admin approves it')
  t.same((await app.retentionSweeper.sweep()).tenants['tenant-h'], { deleted: 6, horizon: 10, held: false }, 'lifted, the sweep goes on')
})

t.test('with two replicas only one sweeps, and a crash between horizon and delete is repaired', async (t) => {
  const one = await build(t, { config })
  const two = await build(t, { config })
  await userWithToken(one, { username: 'two-admin', roles: ['admin'], tenant: 'tenant-2' })
  await writeAt(one, 'tenant-2', 6, T0)
  await one.sequencer.flush()
  await setPolicy(one, 'tenant-2', 1)
  const at = () => new Date(T0.getTime() + 2 * DAY)
  one.retentionSweeper.clock = at
  two.retentionSweeper.clock = at
  one.retentionSweeper.pause = async () => {}
  two.retentionSweeper.pause = async () => {}

  // a crash after the horizon was recorded and before the events below it were deleted
  await one.tenantPolicies.recordHorizon('tenant-2', { horizon: 3, expired_at: at(), days: 1 })
  const before = await one.completeness.report('tenant-2', {})
  t.same(
    before.holes,
    [{ from: 1, to: 2, reason: 'expired_by_policy' }],
    'seqs below the horizon count as expired even while their events linger'
  )

  const reports = await Promise.all([one.retentionSweeper.sweep(), two.retentionSweeper.sweep()])
  t.same(reports.map((report) => report.swept).sort(), [false, true], 'exactly one replica holds the lease')
  const winner = reports.find((report) => report.swept)
  t.same(winner?.tenants['tenant-2'], { deleted: 6, horizon: 7, held: false }, 'the leftovers below the old horizon and the rest')
  t.same(reports.find((report) => !report.swept)?.tenants, {}, 'the other did nothing')
  t.same(await seqsOf(one, 'tenant-2'), [7], 'the policy entry stays')
  t.same((await one.completeness.report('tenant-2', {})).holes, [{ from: 1, to: 6, reason: 'expired_by_policy' }])
})

t.test('RETENTION_DEFAULT_DAYS applies to every tenant that set no policy of its own', async (t) => {
  const app = await build(t, { config: { ...config, RETENTION_DEFAULT_DAYS: 10 } })
  await userWithToken(app, { username: 'default-admin', roles: ['admin'], tenant: 'tenant-d' })
  await userWithToken(app, { username: 'own-admin', roles: ['admin'], tenant: 'tenant-own' })
  await writeAt(app, 'tenant-d', 2, T0)
  await writeAt(app, 'tenant-own', 2, T0)
  await app.sequencer.flush()
  await setPolicy(app, 'tenant-own', 0)
  await inTree(app, 'tenant-d', 2)
  app.retentionSweeper.clock = () => new Date(T0.getTime() + 11 * DAY)
  const report = await app.retentionSweeper.sweep()
  // the file's database is shared: the tenants of the tests above are swept too, with their own policies
  t.same(report.tenants['tenant-d'], { deleted: 2, horizon: 3, held: false }, 'the default expires tenant-d')
  t.notOk('tenant-own' in report.tenants, 'tenant-own set 0: kept forever, not looked at')
  t.same(await seqsOf(app, 'tenant-own'), [1, 2, 3])
})
