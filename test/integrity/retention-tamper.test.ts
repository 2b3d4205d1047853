import t, { type Test } from 'tap'
import { MongoClient, type Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { bearer, build, MONGODB_URL, sampleEvent, testDatabaseName, userWithToken } from '../helper.js'
import type { EventInput } from '../../src/schemas/event.js'

/**
 * Retention takes effect only through the log, against someone who can write the database (a second
 * client here) but holds no signing key: back-dated timestamps and a policy written straight into the
 * database delete nothing and raise the integrity alarm; a policy whose document contradicts its entry
 * is ignored; a locked retention cannot be shortened, and a legal hold is not lifted by one admin alone.
 */
const DAY = 24 * 3600 * 1000
// a default of 3650 days: a tenant without a policy of its own is swept under it (and none of these events is that old)
const config = {
  SEQUENCE_FOLD_MS: 20,
  CHECKPOINT_INTERVAL_MS: 50,
  RETENTION_BATCH_SIZE: 4,
  RETENTION_MIN_DAYS: 1,
  RETENTION_DEFAULT_DAYS: 3650,
  RETENTION_SWEEP_INTERVAL_MS: 0
}

let app: FastifyInstance
let db: Db

t.before(async () => {
  app = await build(t, { config })
  app.retentionSweeper.pause = async () => {}
  const client = new MongoClient(MONGODB_URL)
  t.teardown(() => client.close())
  db = client.db(testDatabaseName)
})

interface Alarmed { tenant: string, message: string }
/** The integrity alarm's raised violations (readiness warning and metric: docs/integrity.md). */
function alarms (): Alarmed[] {
  return (app as unknown as { integrityAlarm: { violations: Alarmed[] } }).integrityAlarm.violations
}

async function inTree (tenant: string, seq: number): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    await app.sequencer.flush()
    if ((await app.merkleTrees.view(tenant)).size >= seq) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`the tree of ${tenant} never reached seq ${seq}`)
}

/** A tenant with `count` events received now, an admin, and a policy of `days` set through the API (in the log). */
async function tenantWith (t: Test, tenant: string, count: number, days: number): Promise<{ admin: string, policySeq: number }> {
  const admin = await userWithToken(app, { username: `${tenant}-admin`, roles: ['admin'], tenant })
  const inputs = Array.from({ length: count }, () => sampleEvent() as unknown as EventInput)
  await app.eventWriter.write({ tenant, username: 'w' }, inputs)
  const put = await app.inject({ method: 'PUT', url: '/tenant/retention', headers: bearer(admin), payload: { days } })
  t.equal(put.statusCode, 200)
  const policySeq = put.json().policy_seq as number
  t.equal(policySeq, count + 1, 'the policy is the entry after the events')
  await inTree(tenant, policySeq)
  return { admin, policySeq }
}

async function seqsOf (tenant: string): Promise<number[]> {
  return (await db.collection('events').find({ tenant }, { projection: { seq: 1 } }).sort({ seq: 1 }).toArray()).map((doc) => doc.seq)
}

/** The attack of the issue: the first `count` events' stored timestamps moved 30 days back. */
async function backDate (tenant: string, count: number): Promise<void> {
  await db.collection('events').updateMany({ tenant, seq: { $lte: count } }, { $set: { timestamp: new Date(Date.now() - 30 * DAY) } })
}

t.test('back-dated timestamps and a 1-day policy written into the database: nothing deleted, the alarm raised', async (t) => {
  const tenant = 'backdated-forged'
  await tenantWith(t, tenant, 6, 365)
  await backDate(tenant, 6)
  // a policy document as the route would write it, but with no entry of the log behind it
  await db.collection('tenant_policies').replaceOne(
    { _id: `retention:${tenant}` as never },
    { kind: 'retention', tenant, days: 1, updated_at: new Date(), updated_by: 'mallory' }
  )
  const report = await app.retentionSweeper.sweep()
  t.same(report.tenants[tenant], { deleted: 0, horizon: 1, held: false }, 'nothing is deleted')
  t.same(await seqsOf(tenant), [1, 2, 3, 4, 5, 6, 7], 'every event is still there')
  t.equal(await app.tenantPolicies.retentionHorizon(tenant), undefined, 'no horizon is signed')
  t.match(alarms().find((alarm) => alarm.tenant === tenant), { message: /retention policy \(1 days\) is ignored: no entry of the log set it/ },
    'the integrity alarm names the tenant')
})

t.test('a stored policy that contradicts the entry it names is ignored', async (t) => {
  const tenant = 'contradicts-entry'
  const { policySeq } = await tenantWith(t, tenant, 3, 365)
  await backDate(tenant, 3)
  await db.collection('tenant_policies').updateOne({ _id: `retention:${tenant}` as never }, { $set: { days: 1 } })
  const report = await app.retentionSweeper.sweep()
  t.same(report.tenants[tenant], { deleted: 0, horizon: 1, held: false }, 'nothing is deleted')
  t.match(alarms().find((alarm) => alarm.tenant === tenant), { message: new RegExp(`the log entry at seq ${policySeq} says otherwise`) })
})

t.test('under a lawful 1-day policy, back-dated events fail the comparison with the tree: nothing deleted, the alarm raised', async (t) => {
  const tenant = 'backdated-lawful'
  await tenantWith(t, tenant, 6, 1)
  await backDate(tenant, 6)
  const report = await app.retentionSweeper.sweep()
  t.same(report.tenants[tenant], { deleted: 0, horizon: 1, held: false }, 'nothing is deleted')
  t.same(await seqsOf(tenant), [1, 2, 3, 4, 5, 6, 7])
  t.equal(await app.tenantPolicies.retentionHorizon(tenant), undefined, 'no horizon is signed')
  t.match(alarms().find((alarm) => alarm.tenant === tenant), {
    message: /the event at seq 1 differs from the tree's leaf \(its timestamp or another field was changed\): nothing of the tenant is deleted/
  })
})

t.test('an event deleted by hand is not swept under the horizon', async (t) => {
  const tenant = 'deleted-then-swept'
  await tenantWith(t, tenant, 4, 1)
  // truly old events cannot be made here: the sweeper's clock moves forward instead
  await db.collection('events').deleteOne({ tenant, seq: 2 })
  app.retentionSweeper.clock = () => new Date(Date.now() + 2 * DAY)
  t.teardown(() => { app.retentionSweeper.clock = () => new Date() })
  const report = await app.retentionSweeper.sweep()
  t.same(report.tenants[tenant], { deleted: 0, horizon: 1, held: false }, 'nothing is deleted')
  t.match(alarms().find((alarm) => alarm.tenant === tenant), { message: /seq 2 missing, where the tree holds an event/ })
})

t.test('a lawful policy sweeps under horizons naming its entry (v2), and restates the policy before its entry expires', async (t) => {
  const tenant = 'lawful-sweep'
  const { policySeq } = await tenantWith(t, tenant, 5, 1)
  app.retentionSweeper.clock = () => new Date(Date.now() + 2 * DAY)
  t.teardown(() => { app.retentionSweeper.clock = () => new Date() })
  const report = await app.retentionSweeper.sweep()
  t.same(report.tenants[tenant], { deleted: 6, horizon: policySeq + 1, held: false }, 'the five events and the old entry go')
  const restated = await app.tenantPolicies.retention(tenant)
  t.equal(restated.seq, policySeq + 1, 'the policy now names its restatement at the end of the log')
  const [entry] = await db.collection('events').find({ tenant, seq: restated.seq }).toArray()
  t.match(entry, {
    event_type: 'audit.admin.retention_changed',
    username: 'system',
    event_specificdetails: { days: 1, locked: false, restates: policySeq }
  })
  t.match(await app.tenantPolicies.signedHorizon(tenant), { horizon: policySeq + 1, days: 1, policy_seq: policySeq + 1 },
    'the signed horizon names the entry it was made under')
  t.notOk(alarms().some((alarm) => alarm.tenant === tenant), 'no alarm')
})

t.test('a policy document deleted from the database does not fall back to the default', async (t) => {
  const tenant = 'deleted-policy'
  const { policySeq } = await tenantWith(t, tenant, 3, 0)
  await db.collection('tenant_policies').deleteOne({ _id: `retention:${tenant}` as never })
  const report = await app.retentionSweeper.sweep()
  t.same(report.tenants[tenant], { deleted: 0, horizon: 1, held: false }, 'nothing is deleted under the default')
  t.match(alarms().find((alarm) => alarm.tenant === tenant), {
    message: new RegExp(`sets the tenant's retention at seq ${policySeq}, but its policy is gone`)
  })
})

t.test("a tenant under the operator's default gets an entry saying so before anything expires under it", async (t) => {
  const tenant = 'under-default'
  await userWithToken(app, { username: 'default-admin', roles: ['admin'], tenant })
  await app.eventWriter.write({ tenant, username: 'w' }, [sampleEvent() as unknown as EventInput])
  await inTree(tenant, 1)
  await app.retentionSweeper.sweep()
  const policy = await app.tenantPolicies.retention(tenant)
  t.match(policy, { days: 3650, default: true, seq: 2 })
  const [entry] = await db.collection('events').find({ tenant, seq: 2 }).toArray()
  t.match(entry, { event_type: 'audit.admin.retention_changed', event_specificdetails: { days: 3650, source: 'default' } })
})

t.test('a locked retention can only grow: shortening it or unlocking it is a 409', async (t) => {
  const tenant = 'locked-retention'
  const admin = await userWithToken(app, { username: 'locked-admin', roles: ['admin'], tenant })
  const put = async (payload: Record<string, unknown>) =>
    await app.inject({ method: 'PUT', url: '/tenant/retention', headers: bearer(admin), payload })
  const locked = await put({ days: 365, locked: true })
  t.equal(locked.statusCode, 200)
  t.match(locked.json(), { days: 365, locked: true, default: false })
  for (const payload of [{ days: 1 }, { days: 364, locked: true }, { days: 365, locked: false }]) {
    const res = await put(payload)
    t.equal(res.statusCode, 409, `${JSON.stringify(payload)} is refused`)
    t.equal(res.json().code, 'RETENTION_LOCKED')
  }
  t.match((await put({ days: 400 })).json(), { days: 400, locked: true }, 'longer is allowed, and stays locked')
  t.match((await put({ days: 0 })).json(), { days: 0, locked: true }, 'forever is the longest')
  t.equal((await put({ days: 3650 })).statusCode, 409, 'and from forever nothing is longer')
  const entries = (await db.collection('events').find({ tenant, event_type: 'audit.admin.retention_changed' }).sort({ seq: 1 }).toArray())
    .map((event) => event.event_specificdetails)
  t.same(entries, [
    { days: 365, previous_days: 3650, locked: true },
    { days: 400, previous_days: 365, locked: true },
    { days: 0, previous_days: 400, locked: true }
  ], 'each change is an entry of the log, with the lock; the refused ones are not')
})

t.test('one admin cannot lift a legal hold alone: a second admin approves, and every step is in the log', async (t) => {
  const tenant = 'two-admins'
  const alice = await userWithToken(app, { username: 'alice-admin', roles: ['admin'], tenant })
  const bob = await userWithToken(app, { username: 'bob-admin', roles: ['admin'], tenant })
  const call = async (method: 'PUT' | 'POST' | 'DELETE', url: string, token: string, payload?: Record<string, unknown>) =>
    await app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload }) })
  t.equal((await call('PUT', '/tenant/legal-hold', alice, { active: true, reason: 'Case 9' })).statusCode, 200)

  const asked = await call('PUT', '/tenant/legal-hold', alice, { active: false, reason: 'Case 9 closed' })
  t.equal(asked.statusCode, 202, 'asking for the lift is all one admin can do')
  t.match(asked.json(), { active: true, pending_lift: { requested_by: 'alice-admin', reason: 'Case 9 closed', mode: 'two-admins' } })
  t.equal((await app.tenantPolicies.legalHold(tenant)).active, true, 'the hold stays')
  const self = await call('POST', '/tenant/legal-hold/lift/approve', alice)
  t.same([self.statusCode, self.json().code], [409, 'LEGAL_HOLD_APPROVAL'], 'she cannot approve her own lift')
  t.equal((await app.tenantPolicies.legalHold(tenant)).active, true, 'still held')

  const cancelled = await call('DELETE', '/tenant/legal-hold/lift', bob)
  t.match(cancelled.json(), { active: true, pending_lift: null }, 'another admin can cancel it')
  t.equal((await call('POST', '/tenant/legal-hold/lift/approve', bob)).statusCode, 409, 'nothing left to approve')

  t.equal((await call('PUT', '/tenant/legal-hold', alice, { active: false, reason: 'Case 9 closed, really' })).statusCode, 202)
  const approved = await call('POST', '/tenant/legal-hold/lift/approve', bob)
  t.equal(approved.statusCode, 200)
  t.match(approved.json(), { active: false, pending_lift: null, updated_by: 'bob-admin' }, 'lifted by the second admin')
  const steps = (await db.collection('events').find({ tenant, event_type: /^audit\.admin\.legal_hold/ }).sort({ seq: 1 }).toArray())
    .map((event) => [event.event_type, event.username])
  t.same(steps, [
    ['audit.admin.legal_hold_set', 'alice-admin'],
    ['audit.admin.legal_hold_lift_requested', 'alice-admin'],
    ['audit.admin.legal_hold_lift_cancelled', 'bob-admin'],
    ['audit.admin.legal_hold_lift_requested', 'alice-admin'],
    ['audit.admin.legal_hold_lifted', 'bob-admin']
  ], 'every step is an entry of the log')
})

t.test('in delay mode one admin lifts a hold only after the delay, and it can be cancelled meanwhile', async (t) => {
  const delayed = await build(t, { config: { ...config, LEGAL_HOLD_LIFT_MODE: 'delay', LEGAL_HOLD_LIFT_DELAY_MS: 300 } })
  const tenant = 'delay-mode'
  const alice = await userWithToken(delayed, { username: 'delay-admin', roles: ['admin'], tenant })
  const call = async (method: 'PUT' | 'POST', url: string, payload?: Record<string, unknown>) =>
    await delayed.inject({ method, url, headers: bearer(alice), ...(payload === undefined ? {} : { payload }) })
  await call('PUT', '/tenant/legal-hold', { active: true, reason: 'Case 10' })
  const asked = await call('PUT', '/tenant/legal-hold', { active: false, reason: 'Case 10 closed' })
  t.match(asked.json(), { active: true, pending_lift: { mode: 'delay', approvable_after: /Z$/ } })
  const after = Date.parse(asked.json().pending_lift.approvable_after)
  const early = await call('POST', '/tenant/legal-hold/lift/approve')
  // no timed assertion: the refusal is checked only when the answer came before the delay ended
  if (early.statusCode === 409) t.equal(early.json().code, 'LEGAL_HOLD_APPROVAL', 'not before the delay')
  else t.ok(Date.now() >= after, 'approved early only if the delay had passed')
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, after - Date.now() + 20)))
  const late = early.statusCode === 200 ? early : await call('POST', '/tenant/legal-hold/lift/approve')
  t.match(late.json(), { active: false }, 'after it, the same admin lifts it')
})
