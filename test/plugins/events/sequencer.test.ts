import t from 'tap'
import { MongoClient, type CommandStartedEvent } from 'mongodb'
import { Sequencer, type Reservation } from '../../../src/plugins/app/events/sequencer.js'
import type { StoredEvent } from '../../../src/plugins/app/events/record.js'
import { MONGODB_URL, testDatabaseName } from '../../helper.js'

/**
 * The Sequencer on the real database: claims from two instances (two replicas: separate caches, one
 * database) never overlap and leave no gap, settled ranges fold into the counter with their holes, and a
 * claim nobody settled becomes recorded holes for exactly the seqs without an event.
 */
const client = new MongoClient(MONGODB_URL, { monitorCommands: true })
let databases = 0
const names: string[] = []
t.teardown(async () => {
  for (const name of names) await client.db(name).dropDatabase()
  await client.close()
})

function freshDb (): ReturnType<MongoClient['db']> {
  const name = `${testDatabaseName}_${++databases}`.slice(0, 63)
  names.push(name)
  return client.db(name)
}

async function sequencer (db: ReturnType<MongoClient['db']>, staleAfterMs = 60000): Promise<Sequencer> {
  const s = new Sequencer(db, db.collection<StoredEvent>('events'), { foldIntervalMs: 50, staleAfterMs })
  await s.ensureIndexes()
  return s
}

t.test('two replicas claiming concurrently for one tenant get disjoint ranges that tile 1..N', async (t) => {
  const db = freshDb()
  const [a, b] = [await sequencer(db), await sequencer(db)]
  const sizes = Array.from({ length: 40 }, (_, i) => 1 + (i * 7) % 13)
  const claims = await Promise.all(sizes.map((size, i) => (i % 2 === 0 ? a : b).reserve('tenant-x', size)))
  const sorted = [...claims].sort((x, y) => x.first - y.first)
  let next = 1
  for (const claim of sorted) {
    t.equal(claim.first, next, `a claim starts where the previous one ends (${claim.first})`)
    next = claim.first + claim.count
  }
  t.equal(next - 1, sizes.reduce((sum, size) => sum + size, 0), 'every seq claimed exactly once')
  t.equal((await a.reserve('tenant-y', 3)).first, 1, 'another tenant has its own sequence')
})

t.test('commits fold into the counter in order; holes are kept; a gap stops the fold', async (t) => {
  const db = freshDb()
  const s = await sequencer(db)
  const r1 = await s.reserve('t', 3)
  const r2 = await s.reserve('t', 2)
  const r3 = await s.reserve('t', 4)
  s.settle([{ ...r1, holes: [{ seq: 2, reason: 'duplicate_event_id' }] }, { ...r3, holes: [] }])
  await s.flush()
  t.equal(await s.settledThrough('t'), 3, 'settled up to the unsettled second range')
  await s.fold()
  t.equal(await s.settledThrough('t'), 3, 'folding does not move past the gap')
  t.same([...(await s.recordedHoles('t', 100)).entries()], [[2, 'duplicate_event_id']], 'the hole is recorded')
  s.settle([{ ...r2, holes: [] }])
  await s.flush()
  t.equal(await s.settledThrough('t'), 9, 'once the gap is settled, everything after it is too')
  await s.fold()
  t.equal(await s.settledThrough('t'), 9)
  t.equal(await s.settlementRecords.countDocuments({}), 0, 'folded commits are removed')
  t.equal((await s.holes.find({ tenant: 't' }).toArray()).length, 1, 'and their holes moved to sequence_holes')
  t.equal((await s.reserve('t', 1)).first, 10, 'the next claim continues after the folded ones')
})

t.test('a claim nobody settles becomes recorded holes for exactly its seqs without an event, once stale', async (t) => {
  const db = freshDb()
  const s = await sequencer(db, 200)
  const abandoned: Reservation = await s.reserve('t', 5)
  // the dead writer stored two of its five events before it died
  await db.collection('events').insertMany([{ tenant: 't', seq: 2 }, { tenant: 't', seq: 4 }])
  await s.fold()
  t.equal(await s.settledThrough('t'), 0, 'not yet stale: it may still be written')
  await new Promise((resolve) => setTimeout(resolve, 250))
  await s.fold()
  await s.fold()
  t.equal(await s.settledThrough('t'), abandoned.count, 'settled once stale')
  t.same([...(await s.recordedHoles('t', 10)).entries()].sort(), [
    [1, 'write_not_completed'],
    [3, 'write_not_completed'],
    [5, 'write_not_completed']
  ])
})

t.test('a stale fold of an already-settled range is harmless', async (t) => {
  const db = freshDb()
  const s = await sequencer(db)
  const r = await s.reserve('t', 2)
  s.settle([{ ...r, holes: [] }])
  await s.flush()
  s.settle([{ ...r, holes: [] }])
  await s.flush()
  await s.fold()
  s.settle([{ ...r, holes: [] }])
  await s.flush()
  await s.fold()
  t.equal(await s.settledThrough('t'), 2)
  t.equal(await s.settlementRecords.countDocuments({}), 0, 'a late duplicate commit is cleaned up')
})

t.test('a settlement rides along in the tenant\'s next claim, with no write of its own', async (t) => {
  const db = freshDb()
  const s = await sequencer(db)
  const r1 = await s.reserve('t', 4)
  s.settle([{ ...r1, holes: [{ seq: 3, reason: 'duplicate_event_id' }] }])
  await s.reserve('t', 2)
  t.equal(await s.settlementRecords.countDocuments({}), 0, 'no commit record was written')
  t.equal(await s.settledThrough('t'), 4, 'the first range is settled, carried by the second claim')
  t.same([...(await s.recordedHoles('t', 10)).entries()], [[3, 'duplicate_event_id']], 'with its hole')
  await s.fold()
  t.equal(await s.settledThrough('t'), 4, 'and folds like any other settlement')
})

t.test('folders of two replicas folding at once never set the counter back, nor lose a settled range', async (t) => {
  const db = freshDb()
  const [a, b] = [await sequencer(db), await sequencer(db)]
  let total = 0
  for (let round = 0; round < 8; round++) {
    // each round: both replicas claim and settle, then both fold at the same moment, over and over
    const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).reserve('t', 1 + i)))
    total += claims.reduce((sum, claim) => sum + claim.count, 0)
    for (const [i, claim] of claims.entries()) (i % 2 === 0 ? a : b).settle([{ ...claim, holes: [] }])
    await Promise.all([a.flush(), b.flush()])
    await Promise.all([a.fold(), b.fold(), a.fold(), b.fold()])
    t.equal(await a.settledThrough('t'), total, `round ${round}: settled through ${total}`)
  }
  // a folder with an older view records a lower mark: the counter stays where it is
  await db.collection('sequence_counters').insertOne({ _id: 't:1' as never, tenant: 't', committed: 1 })
  t.equal(await b.settledThrough('t'), total, 'a lower mark does not set the counter back')
  await a.fold()
  t.equal(await a.settledThrough('t'), total)
  t.equal((await a.reserve('t', 1)).first, total + 1, 'and claims continue after it')
})

t.test('followedThrough: this replica\'s settlements at once, another\'s once folded, then agreeing with settledThrough', async (t) => {
  const db = freshDb()
  const [a, b] = [await sequencer(db), await sequencer(db)]
  const r1 = await a.reserve('t', 3)
  const r2 = await a.reserve('t', 2)
  a.settle([{ ...r2, holes: [] }])
  t.equal(await a.followedThrough('t'), 0, 'a settled range after an unsettled one does not count')
  a.settle([{ ...r1, holes: [{ seq: 2, reason: 'duplicate_event_id' }] }])
  t.equal(await a.followedThrough('t'), 5, 'the replica that settled them knows at once, with nothing stored yet')
  t.equal(await b.followedThrough('t'), 0, 'another replica only reads the folded counter')
  await a.flush()
  t.equal(await b.settledThrough('t'), 5, 'which settledThrough, reading every settlement, is ahead of')
  await a.fold()
  t.equal(await b.followedThrough('t'), 5, 'once folded, every replica follows it')
  const r3 = await b.reserve('t', 4)
  const r4 = await a.reserve('t', 1)
  a.settle([{ ...r4, holes: [] }])
  t.equal(await a.followedThrough('t'), 5, 'a range of its own past another replica\'s unfolded one waits for the fold')
  b.settle([{ ...r3, holes: [] }])
  t.equal(await b.followedThrough('t'), 9)
  await Promise.all([a.flush(), b.flush()])
  await b.fold()
  t.same([await a.followedThrough('t'), await a.settledThrough('t')], [10, 10], 'folded: the marks agree')
})

/**
 * Two replicas claiming back to back for one tenant, as two services ingesting at full speed: counted in claims
 * (a fixed number of them), not in time. The replica whose cached next position wins every race must not keep
 * the other out: each gets a share, and no claim of either runs out of attempts.
 */
t.test('two replicas claiming back to back for one tenant both get a share of the claims', async (t) => {
  const db = freshDb()
  const replicas = [await sequencer(db), await sequencer(db)]
  const total = 300
  const won = [0, 0]
  const failed = [0, 0]
  let made = 0
  await Promise.all(replicas.map(async (replica, r) => {
    while (made < total) {
      try {
        await replica.reserve('t', 1)
        won[r] = (won[r] ?? 0) + 1
        made++
      } catch {
        failed[r] = (failed[r] ?? 0) + 1
      }
    }
  }))
  t.comment(`claims won: ${won.join(' / ')}; claims that ran out of attempts: ${failed.join(' / ')}`)
  t.same(failed, [0, 0], 'no claim ran out of attempts')
  for (const [r, count] of won.entries()) t.ok(count >= total / 5, `replica ${r} won ${count} of ${total} claims (at least a fifth)`)
})

t.test('a replica alone reads the newest claim once; while another replica says it loses races, every few claims', async (t) => {
  const db = freshDb()
  const [a, b] = [await sequencer(db), await sequencer(db)]
  // runs of claims from the cache at their longest, 8: the random draw is what makes the races fair
  const random = Math.random
  Math.random = () => 0.999
  t.teardown(() => { Math.random = random })
  const reads = new Map<string, number>()
  const count = (event: CommandStartedEvent) => {
    if (event.commandName === 'find') reads.set(event.command.find, (reads.get(event.command.find) ?? 0) + 1)
  }
  client.on('commandStarted', count)
  t.teardown(() => client.off('commandStarted', count))

  for (let i = 0; i < 200; i++) await a.reserve('alone', 1)
  // one read of the newest claim, for the first; one read of the marks at the end of each run of 8 (before: 25 reads
  // of the newest claim, on FerretDB each a scan of every claim kept)
  t.equal(reads.get('sequence_claims'), 1, '200 claims of a replica alone read the newest claim once')
  t.equal(reads.get('sequence_contention'), 24, 'and the contention marks at the end of each run')

  // another replica claims the position a's cache points at: a loses the race, says so, and reads the newest claim
  t.equal((await b.reserve('alone', 1)).first, 201)
  t.equal((await a.reserve('alone', 1)).first, 202, 'the lost race is claimed again after the other replica\'s claim')
  const marks = await db.collection('sequence_contention').find({ tenant: 'alone' }).toArray()
  t.equal(marks.length, 1, 'the replica that lost a race left a mark')

  // a's own mark does not make a read: its runs from the cache go on
  reads.clear()
  for (let i = 0; i < 16; i++) await a.reserve('alone', 1)
  t.equal(reads.get('sequence_claims'), undefined, 'a, which lost, does not read the newest claim at the ends of its runs')
  // b reads it at the end of each of its runs while a's mark is there: b's cache is stale first (a's claims), then
  // runs of 8 from the cache each end in a read, on equal terms with the loser
  reads.clear()
  for (let i = 0; i < 33; i++) await b.reserve('alone', 1)
  t.equal(reads.get('sequence_claims'), 4, 'b read the newest claim after its own lost race and at the end of each of its 3 runs')
})
