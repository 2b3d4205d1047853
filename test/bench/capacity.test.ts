import t from 'tap'
import { BSON } from 'mongodb'
import { measureCosts } from '../../bench/capacity.js'
import { bytesPerEvent, formatBytes, project, projectionTable, type MeasuredCosts, type Plan } from '../../bench/capacity-model.js'
import { bearer, build, userWithToken } from '../helper.js'

/** The capacity model of docs/scaling.md: its measurements are of stored documents, and its arithmetic holds. */
const COSTS: MeasuredCosts = {
  serviceCpuMsPerEvent: { single: 0.6, batched: 0.1 },
  eventBytes: 500,
  indexEntryBytes: { _id_: 20, tenant_seq: 30, tenant_time: 50 },
  treeBytesPerEvent: 32,
  checkpointBytes: 300
}
const PLAN: Plan = {
  eventsPerSecond: 1000,
  retentionDays: 10,
  singleShare: 0.5,
  shardEventsPerSecond: 400,
  shardStorageBytes: 1e12,
  coreUtilization: 0.5,
  activeTenants: 2,
  checkpointIntervalMs: 2000,
  copies: 3
}

t.test('the projection is the measured costs times the load, worked by hand', async (t) => {
  t.same(bytesPerEvent(COSTS), { document: 500, indexes: 100, tree: 32 })
  const p = project(COSTS, PLAN)
  // 1000 events/s × (0.5 × 0.6 + 0.5 × 0.1) ms = 350 core-ms/s = 0.35 cores, at 50% → 0.7 → 1
  t.equal(p.serviceCores, 1)
  t.equal(project(COSTS, { ...PLAN, eventsPerSecond: 100000 }).serviceCores, 70, '100k events/s: 35 cores busy, 70 at 50%')
  const eventsPerDay = 1000 * 86400
  // 2 tenants × 43,200 checkpoints a day × 300 B
  const perDay = eventsPerDay * 632 + 2 * 43200 * 300
  t.equal(p.eventsPerMonth, eventsPerDay * 30)
  t.equal(p.storagePerMonthBytes, perDay * 30)
  t.equal(p.retainedBytes, perDay * 10)
  t.equal(p.retainedIndexBytes, eventsPerDay * 10 * 100)
  t.equal(p.retainedBytesAllCopies, perDay * 10 * 3)
  t.equal(p.shardsForWrites, 3, '1000 / 400 per shard, rounded up')
  t.equal(p.shardsForStorage, Math.ceil(perDay * 10 / 1e12))
  t.equal(p.shards, Math.max(3, p.shardsForStorage))
  t.equal(project(COSTS, { ...PLAN, eventsPerSecond: 1, retentionDays: 1 }).shards, 1, 'never fewer than one')
  t.equal(formatBytes(1536), '1.5 KiB')
  t.equal(formatBytes(3 * 1024 ** 4), '3.0 TiB')
  t.match(projectionTable([p]), /\| 1,000 \| 1 \| /)
})

t.test('measured on events the service stored: BSON sizes of the documents and index keys, the tree per leaf', async (t) => {
  const app = await build(t, { config: { SEQUENCE_FOLD_MS: 20 } })
  const headers = bearer(await userWithToken(app, { username: 'capacity', roles: ['writer'] }))
  const measured = await measureCosts(app, 300, headers)
  const stored = await app.mongo.db!.collection('events').find({}).toArray()
  t.equal(stored.length, 300)
  const average = stored.reduce((sum, doc) => sum + BSON.calculateObjectSize(doc), 0) / 300
  t.equal(measured.costs.eventBytes, average, 'the average BSON size of the stored events')
  t.ok(
    measured.costs.eventBytes > 400 && measured.costs.eventBytes < 2000,
    `a sample event is a few hundred bytes stored (${measured.costs.eventBytes})`
  )
  t.same(
    Object.keys(measured.costs.indexEntryBytes).sort(),
    ['_id_', 'tenant_idem_key', 'tenant_seq', 'tenant_time', 'tenant_type_time', 'tenant_username_time'],
    'one figure per declared index'
  )
  t.ok(
    measured.costs.indexEntryBytes.tenant_username_time! > measured.costs.indexEntryBytes.tenant_time!,
    'a key with one more field is bigger'
  )
  t.equal(measured.treeLeaves, 256, 'one full tile for 300 leaves')
  // a tile holds 256 hashes of 32 bytes, and its document a little more
  t.ok(
    measured.costs.treeBytesPerEvent > 32 && measured.costs.treeBytesPerEvent < 34,
    `about 32 bytes per leaf (${measured.costs.treeBytesPerEvent})`
  )
  t.ok(measured.costs.checkpointBytes > 100, 'a signed checkpoint was measured')
  t.ok(measured.costs.serviceCpuMsPerEvent.batched > 0, 'CPU was measured')
})
