import { MongoClient, ObjectId } from 'mongodb'
import { createHash } from 'node:crypto'

/**
 * What the sequence costs the database per event, without the service: 40 unordered bulk inserts of 500
 * events each through the driver, with `w: majority, j: true`, into collections that differ only in
 * (b) the unique (tenant, seq) index, (c) ids derived from (tenant, event_id) instead of fresh ObjectIds,
 * (d) both, (e) both plus one claim insert per bulk write. Twice, interleaved.
 * `npx tsx scripts/with-database.ts npx tsx bench/index-cost.ts` (FerretDB), or with MONGODB_URL set.
 */
const c = new MongoClient(process.env.MONGODB_URL!)
const db = c.db('idx_check')
const base = [
  { key: { tenant: 1, idem_key: 1 }, name: 'tenant_idem_key', unique: true },
  { key: { tenant: 1, timestamp: -1, _id: -1 }, name: 'tenant_time' },
  { key: { tenant: 1, username: 1, timestamp: -1, _id: -1 }, name: 'tenant_username_time' },
  { key: { tenant: 1, event_type: 1, timestamp: -1, _id: -1 }, name: 'tenant_type_time' }
]
async function run (name: string, seqIndex: boolean, derived: boolean, claims: boolean) {
  const col = db.collection(name)
  await col.drop().catch(() => {})
  for (const i of base) await col.createIndexes([i as never])
  if (seqIndex) await col.createIndexes([{ key: { tenant: 1, seq: 1 }, name: 'tenant_seq', unique: true }])
  const claimCol = db.collection(name + '_claims'); await claimCol.drop().catch(() => {})
  let seq = 0
  const t0 = performance.now()
  for (let b = 0; b < 40; b++) {
    if (claims) await claimCol.insertOne({ _id: `t:${seq + 1}` as never, first: seq + 1, count: 500 })
    const docs = Array.from({ length: 500 }, () => {
      seq++
      const eid = `ev-${name}-${seq}`
      return {
        _id: derived
          ? new ObjectId(
            createHash('sha256')
              .update('t\0' + eid)
              .digest()
              .subarray(0, 12)
          )
          : new ObjectId(),
        tenant: 't',
        seq,
        idem_key: 'e:' + eid,
        timestamp: new Date(),
        event_type: 'X',
        username: 'u' + (seq % 97),
        entitytype: 'e',
        ip: '1.2.3.4',
        location: 'l',
        description: 'd'.repeat(60),
        event_id: eid,
        event_specificdetails: { a: seq, b: 'x'.repeat(100) }
      }
    })
    await col.insertMany(docs, { ordered: false, writeConcern: { w: 'majority', j: true } })
  }
  process.stdout.write(`${name}: ${(20000 / ((performance.now() - t0) / 1000)).toFixed(0)} events/s\n`)
}
for (let r = 0; r < 2; r++) {
  await run('a_plain', false, false, false)
  await run('b_seqidx', true, false, false)
  await run('c_derived', false, true, false)
  await run('d_both', true, true, false)
  await run('e_all_claims', true, true, true)
}
await db.dropDatabase()
await c.close()
