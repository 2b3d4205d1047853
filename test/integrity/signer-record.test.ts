import t from 'tap'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { MongoClient, type Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { bearer, build, MONGODB_URL, sampleEvent, testDatabaseName, userWithToken } from '../helper.js'
import { leafHash } from '../../src/verifier/leaf.js'
import { toPublicEvent, type StoredEvent } from '../../src/plugins/app/events/record.js'

/**
 * The attacks of issue #26, each done as the insider an audit log exists for: a second database client,
 * with write access to the database and none to the host's files (the signing key and the signer's record).
 * Each ends without a checkpoint signed over the tampered history, and with the alarm raised.
 */
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50 }

let app: FastifyInstance
let db: Db

t.before(async () => {
  app = await build(t, { config })
  const client = new MongoClient(MONGODB_URL)
  t.teardown(() => client.close())
  db = client.db(testDatabaseName)
})

interface Log { tenant: string, writer: string, reader: string }

async function until<T> (what: string, probe: () => Promise<T | undefined>, ms = 20000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

async function signedSize (on: FastifyInstance, log: Log): Promise<number> {
  const res = await on.inject({ method: 'GET', url: '/integrity/checkpoint', headers: bearer(log.reader) })
  return res.statusCode === 200 ? res.json().tree_size : 0
}

async function logOf (tenant: string, events: number): Promise<Log> {
  const writer = await userWithToken(app, { username: `${tenant}-w`, roles: ['writer'], tenant })
  const reader = await userWithToken(app, { username: `${tenant}-r`, roles: ['reader'], tenant })
  const log = { tenant, writer, reader }
  await ingest(log, events)
  await until(`a checkpoint of ${events}`, async () => (await signedSize(app, log)) >= events ? true : undefined)
  return log
}

async function ingest (log: Log, count: number, on = app): Promise<Array<{ seq: number }>> {
  const events = Array.from({ length: count }, (_, i) => sampleEvent({ event_specificdetails: { n: i } }))
  const res = await on.inject({ method: 'POST', url: '/events/batch', headers: bearer(log.writer), payload: { events } })
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`ingest answered ${res.statusCode}: ${res.body}`)
  return res.json().items
}

/** Changes events' descriptions and recomputes their stored leaf hashes: a rewrite that covers its tracks. */
async function rewrite (tenant: string, from: number, to: number): Promise<void> {
  for (const doc of await db.collection<StoredEvent>('events').find({ tenant, seq: { $gte: from, $lte: to } }).toArray()) {
    doc.description = 'nothing happened here'
    await db.collection<StoredEvent>('events').updateOne({ _id: doc._id }, { $set: { description: doc.description, hash: leafHash(toPublicEvent(doc)) } })
  }
}

async function deleteTreeAndCheckpoints (tenant: string): Promise<void> {
  for (const name of ['merkle_heads', 'merkle_tiles', 'merkle_checkpoints', 'merkle_checkpoint_heads']) {
    await db.collection(name).deleteMany({ tenant })
  }
}

async function violationOf (on: FastifyInstance, tenant: string): Promise<Record<string, unknown> | undefined> {
  const res = await on.inject({ method: 'GET', url: '/health/ready' })
  const warnings = (res.json().warnings ?? []) as Array<Record<string, unknown>>
  return warnings.find((warning) => warning.code === 'INTEGRITY_VIOLATION' && warning.tenant === tenant)
}

async function checkpointsOf (tenant: string): Promise<Array<{ tree_size: number, root_hash: string }>> {
  return await db.collection<{ tree_size: number, root_hash: string }>('merkle_checkpoints')
    .find({ tenant }, { projection: { _id: 0, tree_size: 1, root_hash: 1 } }).sort({ tree_size: 1 }).toArray()
}

t.test('a history rewritten with its hashes, the tree and the checkpoints deleted, is not signed again', async (t) => {
  const log = await logOf('rewritten', 60)
  await rewrite(log.tenant, 50, 55)
  await deleteTreeAndCheckpoints(log.tenant)
  // the service rebuilds the tree from the events as new events come in: the rebuilt tree is not the signed one
  await ingest(log, 5)
  const violation = await until('the alarm', async () => await violationOf(app, log.tenant))
  t.equal(violation.signed_size, 60, 'the alarm names the size the signer recorded')
  t.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200, 'readiness stays 200: ingest goes on')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(await checkpointsOf(log.tenant), [], 'no checkpoint was signed over the rewritten history')
  t.match(await app.metrics.registry.metrics(), /auditlog_integrity_violations [1-9]/, 'the metric counts the tenant')
})

t.test('stored checkpoints rolled back before a rewrite do not let the rewrite be signed', async (t) => {
  const log = await logOf('rolled-back', 30)
  await ingest(log, 30)
  await until('a checkpoint of 60', async () => (await signedSize(app, log)) >= 60 ? true : undefined)
  const genuine = new Map((await checkpointsOf(log.tenant)).map((checkpoint) => [checkpoint.tree_size, checkpoint.root_hash]))
  // back to the checkpoint of 30, as if the later ones had never been signed; then the events after it rewritten
  for (const name of ['merkle_checkpoints', 'merkle_checkpoint_heads']) await db.collection(name).deleteMany({ tenant: log.tenant, tree_size: { $gt: 30 } })
  await rewrite(log.tenant, 31, 60)
  await db.collection('merkle_heads').deleteMany({ tenant: log.tenant })
  await db.collection('merkle_tiles').deleteMany({ tenant: log.tenant })
  await ingest(log, 3)
  await until('the alarm', async () => await violationOf(app, log.tenant))
  await new Promise((resolve) => setTimeout(resolve, 500))
  // a replica may sign the genuine tree of 60 again before the rewrite: that is the history as it was, and allowed
  for (const checkpoint of await checkpointsOf(log.tenant)) {
    t.equal(checkpoint.root_hash, genuine.get(checkpoint.tree_size), `the checkpoint of ${checkpoint.tree_size} is of the genuine history`)
  }
})

t.test('a log cut back and the service restarted: no receipted seq is given again, and the cut is not signed', async (t) => {
  const log = await logOf('cut-back', 50)
  const receipted = app.signerState.receiptedThrough(log.tenant)
  t.ok(receipted >= 50, `receipts handed out through ${receipted} were recorded outside the database`)
  // as a restore from an older backup would leave it: 30 events, and the sequence records of that time
  await db.collection('events').deleteMany({ tenant: log.tenant, seq: { $gt: 30 } })
  for (const name of ['sequence_claims', 'sequence_commits', 'sequence_counters', 'sequence_holes']) await db.collection(name).deleteMany({ tenant: log.tenant })
  await db.collection('sequence_counters').insertOne({ _id: `${log.tenant}:30` as never, tenant: log.tenant, committed: 30 })
  await deleteTreeAndCheckpoints(log.tenant)
  const restarted = await build(t, { config })
  const [first] = await ingest(log, 1, restarted)
  t.ok(first!.seq > receipted, `the next event took seq ${first!.seq}, above every receipted seq (${receipted})`)
  await until('the alarm on the restarted replica', async () => await violationOf(restarted, log.tenant))
  const lost = await until('the lost range among the holes', async () => {
    const res = await restarted.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(log.reader) })
    const holes = res.statusCode === 200 ? (res.json().holes as Array<{ from: number, to: number, reason: string }>) : []
    return holes.find((hole) => hole.reason === 'lost_from_database')
  })
  t.same([lost.from, lost.to], [31, receipted], 'the seqs the database lost are recorded as holes with their own reason')
  t.same(await checkpointsOf(log.tenant), [], 'no checkpoint over the cut-back log')
})

t.test('two replicas sharing the key and its record never sign conflicting checkpoints while the database is tampered', async (t) => {
  const second = await build(t, { config })
  const log = await logOf('two-replicas', 40)
  const before = await checkpointsOf(log.tenant)
  await rewrite(log.tenant, 10, 12)
  await deleteTreeAndCheckpoints(log.tenant)
  await Promise.all([ingest(log, 5, app), ingest(log, 5, second)])
  await until('the alarm on one replica', async () => (await violationOf(app, log.tenant)) ?? (await violationOf(second, log.tenant)))
  await new Promise((resolve) => setTimeout(resolve, 500))
  const after = await checkpointsOf(log.tenant)
  t.same(after, [], 'neither replica signed the rebuilt tree')
  t.ok(before.length > 0, 'there had been checkpoints before the tampering')
})

t.test('a claim made while the claims are being read is not taken for a loss (the fuzzer found it)', async (t) => {
  const log = await logOf('racing-read', 3)
  const claims = app.sequencer.claims
  const newest = claims.newest.bind(claims)
  // the read of the claims answers as of before a write that lands, with its receipt, while the read is on its way
  claims.newest = async (filter) => {
    const answer = await newest(filter)
    await ingest(log, 1)
    return answer
  }
  let through: number
  try {
    through = await app.sequencer.claimedThrough(log.tenant)
  } finally {
    claims.newest = newest
  }
  // read the other way round, the floor (4, recorded by the racing write) passed the claims as read (3): seq 4 was
  // taken for lost, an error was logged and a claim of it attempted beside the real one
  t.equal(through, 3, 'the claims as read, not the floor: the write that raced the read is not taken for a loss')
  t.equal(await db.collection('events').countDocuments({ tenant: log.tenant, seq: 4 }), 1, 'seq 4 holds the event')
})

async function holesOf (on: FastifyInstance, log: Log): Promise<Array<{ from: number, to: number, reason: string }>> {
  const res = await on.inject({ method: 'GET', url: '/integrity/completeness', headers: bearer(log.reader) })
  return res.statusCode === 200 ? res.json().holes : []
}

function factsOf (file: string, tenant: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((fact) => fact.log === `${testDatabaseName}/${tenant}`)
}

t.test('receipts flush the record once per reservation, not once per bulk write', async (t) => {
  const log = await logOf('flushes', 1)
  const writes = 30
  for (let i = 0; i < writes; i++) await ingest(log, 2)
  const facts = factsOf(app.signerState.file, log.tenant)
  const flushed = facts.filter((fact) => fact.kind === 'reserved').length
  const marks = facts.filter((fact) => fact.kind === 'receipts').length
  t.ok(marks >= writes, `every bulk write wrote its exact mark (${marks}), unflushed`)
  // a reservation covers a lease's worth of seqs (32 at least); a fsync per bulk write, as before, would be 31 here
  t.ok(flushed <= 3, `${flushed} flushed reservations for ${writes + 1} bulk writes`)
  t.ok(app.signerState.receiptedThrough(log.tenant) >= 1 + 2 * writes, 'the exact mark covers every receipted seq')
})

t.test("a running replica's reservation is not taken for a dead one's, and a replica stopped leaves none behind", async (t) => {
  const log = await logOf('reservations', 5)
  const second = await build(t, { config })
  const [onSecond] = await ingest(log, 1, second)
  t.equal(onSecond!.seq, 6, "the second replica claims right after the first's seqs, inside its live reservation")
  await second.close()
  t.ok(factsOf(app.signerState.file, log.tenant).some((fact) => fact.kind === 'released' && fact.replica === second.signerState.replica),
    'the stopped replica released its reservation')
  const [next] = await ingest(log, 1)
  t.equal(next!.seq, 7, 'the next seq follows')
  t.same(await holesOf(app, log), [], 'no seq was recorded as a hole')
})

t.test("a replica's host crashing with its exact marks unflushed, then the database cut back: no receipted seq is given again", async (t) => {
  const dying = await build(t, { config })
  const log = await logOf('host-crash', 1)
  await ingest(log, 39, dying)
  const receipted = dying.signerState.receiptedThrough(log.tenant)
  const reservation = factsOf(dying.signerState.file, log.tenant).findLast((fact) => fact.kind === 'reserved')
  t.ok(reservation !== undefined && Number(reservation.through) >= receipted, `a flushed reservation (through ${String(reservation?.through)}) covers the receipts`)
  // the host loses what was not flushed: the exact marks and the release its stop wrote
  await dying.close()
  const file = dying.signerState.file
  const kept = readFileSync(file, 'utf8').split('\n').filter((line) => {
    if (line === '') return false
    const fact = JSON.parse(line) as Record<string, unknown>
    return fact.log !== `${testDatabaseName}/${log.tenant}` || fact.kind === 'reserved' || fact.kind === 'checkpoint'
  })
  writeFileSync(file + '.crashed', kept.join('\n') + '\n')
  renameSync(file + '.crashed', file)
  // the surviving replica folds what the dead one left (its last settlement) on its own clock: a fold that read the
  // database before the cut below and wrote after it would put the folded counter back above 30, over the cut
  await until('the surviving replica to fold the dead one\'s writes', async () => {
    const marks = await db.collection('sequence_counters').find({ tenant: log.tenant }).toArray()
    const records = await db.collection('sequence_commits').countDocuments({ tenant: log.tenant })
    return records === 0 && marks.length === 1 && marks[0]!.committed === 40 ? true : undefined
  })
  // and the database is restored from an older backup: 30 events
  await db.collection('events').deleteMany({ tenant: log.tenant, seq: { $gt: 30 } })
  for (const name of ['sequence_claims', 'sequence_commits', 'sequence_counters', 'sequence_holes']) await db.collection(name).deleteMany({ tenant: log.tenant })
  await db.collection('sequence_counters').insertOne({ _id: `${log.tenant}:30` as never, tenant: log.tenant, committed: 30 })
  await until('the dead replica\'s reservation to end', async () => Date.now() > Number(reservation!.until) ? true : undefined)
  const [first] = await ingest(log, 1)
  t.ok(first!.seq > Number(reservation!.through), `the next event took seq ${first!.seq}, above the dead replica's reservation`)
  const holes = await until('the reserved range among the holes', async () => {
    const all = await holesOf(app, log)
    return all.some((hole) => hole.reason === 'reserved_by_signer') ? all : undefined
  })
  // The surviving replica shares the record's file: if it read the dead one's exact marks before the crash, it knows
  // those seqs were receipted (lost_from_database); the rest of the reservation is reserved_by_signer. Either way,
  // every seq from the cut to the reservation's end is a hole with the reason the record gives.
  const reserved = holes.find((hole) => hole.reason === 'reserved_by_signer')!
  const through = Number(reservation!.through)
  t.ok(reserved.from > 30 && reserved.from <= receipted + 1 && reserved.to === through,
    `the reservation's unused seqs are reserved_by_signer (${reserved.from}-${reserved.to}, receipts through ${receipted})`)
  t.same(holes.map((hole) => [hole.from, hole.to, hole.reason]),
    [...(reserved.from > 31 ? [[31, reserved.from - 1, 'lost_from_database']] : []), [reserved.from, through, 'reserved_by_signer']],
    'the seqs no claim holds are recorded as holes, with the reason the record gives')
})
