import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { generateKeyPairSync, sign } from 'node:crypto'
import { MongoClient, type Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { bearer, build, MONGODB_URL, sampleEvent, testDatabaseName, userWithToken } from '../helper.js'
import type { EventInput } from '../../src/schemas/event.js'
import type { Checkpoint } from '../../src/verifier/checkpoint.js'
import { horizonMessage, type SignedHorizon } from '../../src/verifier/horizon.js'
import { fromService } from '../../src/verifier/online.js'
import { verifyLog, type VerifyResult } from '../../src/verifier/verify.js'

/**
 * Retention and the verifier: after a sweep, `npm run verify` accepts the expired prefix under the signed
 * horizon and reports it; checkpoints kept from before the sweep still verify; and an event deleted above
 * the horizon, a horizon moved without the key, or one shorter than the policy the log recorded, is named.
 * Access auditing is on here: the policy the verifier checks a horizon against is the log's own record.
 */
const DAY = 24 * 3600 * 1000
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50, AUDIT_ACCESS: true, RETENTION_BATCH_SIZE: 4 }

let app: FastifyInstance
let url: string
let db: Db

interface Log { tenant: string, admin: string, reader: string }

t.before(async () => {
  app = await build(t, { config })
  await app.listen({ port: 0, host: '127.0.0.1' })
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const client = new MongoClient(MONGODB_URL)
  t.teardown(() => client.close())
  db = client.db(testDatabaseName)
  app.retentionSweeper.pause = async () => {}
})

async function checkpointOf (log: Log, size: number): Promise<Checkpoint> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const res = await app.inject({ method: 'GET', url: '/integrity/checkpoint', headers: bearer(log.reader) })
    if (res.statusCode === 200 && res.json().tree_size >= size) return res.json()
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`no checkpoint of size ${size}`)
}

/**
 * A tenant with 10 events received 40 days ago and 5 received a day ago, a retention of `days` set by its
 * admin through the API (so recorded in the log), and a checkpoint kept before the sweep.
 */
async function sweptLog (t: Test, tenant: string, days: number): Promise<{ log: Log, before: Checkpoint }> {
  const log: Log = {
    tenant,
    admin: await userWithToken(app, { username: `${tenant}-admin`, roles: ['admin'], tenant }),
    reader: await userWithToken(app, { username: `${tenant}-reader`, roles: ['reader'], tenant })
  }
  const write = async (count: number, daysAgo: number) => {
    const inputs = Array.from({ length: count }, () => sampleEvent() as unknown as EventInput)
    await app.eventWriter.write({ tenant, username: 'w' }, inputs, new Date(Date.now() - daysAgo * DAY))
  }
  await write(10, 40)
  await write(5, 1)
  t.equal((await app.inject({ method: 'PUT', url: '/tenant/retention', headers: bearer(log.admin), payload: { days } })).statusCode, 200)
  await app.sequencer.flush()
  const before = await checkpointOf(log, 16)
  const report = await app.retentionSweeper.sweep()
  t.match(report.tenants[tenant], { deleted: 10, horizon: 11, held: false }, 'the sweep expired seqs 1..10')
  return { log, before }
}

async function verify (log: Log, trusted?: Checkpoint): Promise<VerifyResult> {
  return verifyLog(await fromService(url, log.reader, undefined, trusted, 3000))
}

function kindOf (result: VerifyResult): string {
  return result.ok ? 'verified' : `${result.problem.kind}${result.problem.seq === undefined ? '' : ` at seq ${result.problem.seq}`}`
}

t.test('after a sweep the log verifies, with the horizon reported, and a checkpoint from before still holds', async (t) => {
  const { log, before } = await sweptLog(t, 'kept-30', 30)
  const horizon = await app.inject({ method: 'GET', url: '/integrity/retention-horizon', headers: bearer(log.reader) })
  t.equal(horizon.statusCode, 200)
  t.match(
    horizon.json(),
    { tenant: 'kept-30', horizon: 11, days: 30, key_id: app.signingKeys.current.key_id, signature: /^[A-Za-z0-9+/=]{80,}$/ },
    'the horizon is signed with the checkpoint key'
  )

  const result = await verify(log, before)
  t.equal(kindOf(result), 'verified', 'the expired prefix is accepted, against the checkpoint kept from before the sweep too')
  if (!result.ok) return
  t.equal(result.verified.expired, 10, 'the ten expired events are counted as expired, not as holes')
  t.equal(result.verified.holes, 0, 'no hole was recorded')
  t.equal(
    result.verified.events + result.verified.expired + result.verified.storedAfterExport,
    result.verified.treeSize,
    'every seq is verified, expired, or an audit record of the verification itself, stored while the export ran'
  )
  t.match(
    result.verified.horizon,
    { horizon: 11, days: 30, policy_seq: 16, policy: 'in the log' },
    'the horizon is checked against the policy the log recorded'
  )
  t.ok(result.verified.events >= 6, 'the five kept events and the policy change are verified')

  const cli = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/verifier/cli.ts', '--url', url, '--token', log.reader])
  t.match(
    cli.stdout,
    /^verified \d+ events, tree size \d+, root [0-9a-f]{64}(; \d+ events stored while the export ran, not verified)?\nretention horizon at seq 11, signed: 10 events below it expired by policy at \S+ under 30 days, as the retention entry at seq 16 of the log allows\n$/,
    'npm run verify passes and reports the horizon'
  )

  const inclusion = await app.inject({
    method: 'GET',
    url: `/integrity/inclusion?seq=3&tree_size=${before.tree_size}`,
    headers: bearer(log.reader)
  })
  t.equal(inclusion.statusCode, 200, 'an expired seq still has its inclusion proof: the tree keeps its leaf')
})

t.test('an event deleted above the horizon by hand is still caught', async (t) => {
  const { log } = await sweptLog(t, 'deleted-above', 30)
  await db.collection('events').deleteOne({ tenant: log.tenant, seq: 13 })
  t.equal(kindOf(await verify(log)), 'missing at seq 13')
})

t.test('a horizon moved over events without the key is refused', async (t) => {
  const { log } = await sweptLog(t, 'moved', 30)
  // whoever can write the database deletes two more events and records a horizon above them
  await db.collection('events').deleteMany({ tenant: log.tenant, seq: { $lt: 13 } })
  const impostor = generateKeyPairSync('ed25519').privateKey
  const statement = { tenant: log.tenant, horizon: 13, expired_at: new Date().toISOString(), days: 30 }
  const signature = sign(null, horizonMessage(statement), impostor).toString('base64')
  await db
    .collection('retention_horizons')
    .insertOne({
      ...statement,
      _id: `${log.tenant}:13` as never,
      expired_at: new Date(statement.expired_at),
      key_id: app.signingKeys.current.key_id,
      signature
    })
  const result = await verify(log)
  t.equal(kindOf(result), 'bad signature')
  t.match(!result.ok && result.problem.detail, /retention horizon at seq 13/)
  await db.collection('retention_horizons').deleteOne({ _id: `${log.tenant}:13` as never })
  t.equal(kindOf(await verify(log)), 'missing at seq 11', 'without the forged horizon, the deleted events are missing')
})

t.test('a horizon its policy entry does not justify is refused, even signed with the key', async (t) => {
  const { log } = await sweptLog(t, 'v2-horizons', 30)
  const input = await fromService(url, log.reader, undefined, undefined, 3000)
  const honest = input.horizon as SignedHorizon
  t.equal(honest.policy_seq, 16, 'the horizon names the PUT /tenant/retention entry at seq 16')
  const entryAt = Date.parse(String(input.events.find((event) => event.seq === 16)?.timestamp))
  // statements the service would never sign: as if its key signed what a database writer asked for
  const signed = (change: Partial<SignedHorizon>): SignedHorizon => {
    const statement = { ...honest, ...change }
    return { ...statement, signature: app.signingKeys.sign(horizonMessage(statement)) }
  }
  const check = (horizon: SignedHorizon) => verifyLog({ ...input, horizon })
  t.equal(kindOf(check(signed({}))), 'verified', 're-signed as it was, it verifies')

  const shorter = check(signed({ days: 1 }))
  t.equal(kindOf(shorter), 'horizon not allowed by policy at seq 11', 'days other than its entry says')
  t.match(!shorter.ok && shorter.problem.detail, /names the policy entry at seq 16, which is a policy of 30 days/)

  const early = check(signed({ expired_at: new Date(entryAt - 3600_000).toISOString() }))
  t.equal(kindOf(early), 'horizon not allowed by policy at seq 11', 'made before its policy was recorded: justified too early')
  t.match(!early.ok && early.problem.detail, /after the events were expired under it/)

  const notPolicy = check(signed({ policy_seq: 12 }))
  t.equal(kindOf(notPolicy), 'horizon not allowed by policy at seq 11', 'an entry that is no retention policy')
  t.match(!notPolicy.ok && notPolicy.problem.detail, /names the policy entry at seq 12, which is a \S+ event/)

  const below = check(signed({ policy_seq: 5 }))
  t.equal(kindOf(below), 'horizon not allowed by policy at seq 11', 'an entry below the horizon')
  t.match(!below.ok && below.problem.detail, /below the horizon/)

  const absent = check(signed({ policy_seq: input.checkpoint.tree_size + 50 }))
  t.equal(kindOf(absent), 'horizon not allowed by policy at seq 11', 'an entry the export does not hold')

  // a v1 horizon (signed before horizons named their policy) is still checked against the policy the log recorded
  const { policy_seq: _named, ...v1 } = honest
  const v1Signed = { ...v1, signature: app.signingKeys.sign(horizonMessage(v1)) }
  t.match(check(v1Signed), { ok: true, verified: { horizon: { policy: 'in the log' } } }, 'v1, under a recorded policy of its days')
  const v1Short = { ...v1, days: 10, signature: app.signingKeys.sign(horizonMessage({ ...v1, days: 10 })) }
  t.equal(kindOf(check(v1Short)), 'horizon not allowed by policy at seq 11', 'v1, shorter than the policy the log recorded')

  // a hold set in the log and lifted only in the database: a horizon made after it is refused
  const hold = await app.inject({ method: 'PUT', url: '/tenant/legal-hold', headers: bearer(log.admin), payload: { active: true, reason: 'c' } })
  t.equal(hold.statusCode, 200)
  const held = await fromService(url, log.reader, undefined, undefined, 3000)
  t.equal(kindOf(verifyLog(held)), 'verified', 'the honest horizon, made before the hold, still verifies')
  const duringHold = verifyLog({ ...held, horizon: signed({ expired_at: new Date(Date.now() + 1000).toISOString() }) })
  t.equal(kindOf(duringHold), 'horizon not allowed by policy at seq 11', 'made while the log says a hold was active')
  t.match(!duringHold.ok && duringHold.problem.detail, /legal hold set at seq \d+ was not lifted then/)
})

t.test('a tenant with nothing expired has no horizon: 404', async (t) => {
  const reader = await userWithToken(app, { username: 'no-horizon-reader', roles: ['reader'], tenant: 'no-horizon' })
  const res = await app.inject({ method: 'GET', url: '/integrity/retention-horizon', headers: bearer(reader) })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'NOT_FOUND')
})
