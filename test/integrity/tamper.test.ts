import t from 'tap'
import { execFile } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { MongoClient, type Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { bearer, build, MONGODB_URL, sampleEvent, testDatabaseName, userWithToken } from '../helper.js'
import { leafHash } from '../../src/verifier/leaf.js'
import { checkpointMessage, type Checkpoint } from '../../src/verifier/checkpoint.js'
import { fromService } from '../../src/verifier/online.js'
import { verifyLog, type VerifyResult } from '../../src/verifier/verify.js'
import { MerkleTrees } from '../../src/plugins/app/integrity/tree.js'

/**
 * Tampering from the outside: a second database client changes what the service stored, as a database
 * administrator could, and the verifier, reading only what the service answers, names what was done.
 */
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50 }

interface Log { tenant: string, writer: string, reader: string, size: number }

let url: string
let app: FastifyInstance
/** A second replica: a repeat it has not seen reaches the database and leaves a recorded hole. */
let replica: FastifyInstance
let db: Db

async function checkpointOf (reader: string, size: number): Promise<Checkpoint> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const res = await app.inject({ method: 'GET', url: '/integrity/checkpoint', headers: bearer(reader) })
    if (res.statusCode === 200 && res.json().tree_size >= size) return res.json()
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`no checkpoint of size ${size}`)
}

/** A tenant's log of 40 seqs, one of them (21) a recorded hole: a repeated event_id sent to the other replica. */
async function freshLog (tenant: string): Promise<Log> {
  const writer = await userWithToken(app, { username: `${tenant}-w`, roles: ['writer'], tenant })
  const reader = await userWithToken(app, { username: `${tenant}-r`, roles: ['reader'], tenant })
  const events = Array.from({ length: 39 }, (_, i) =>
    sampleEvent({ event_id: `e-${i}`, event_specificdetails: { n: i, card: { brand: 'visa' } } })
  )
  await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events: events.slice(0, 20) } })
  const repeat = await replica.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: events[3] })
  if (repeat.json().status !== 'duplicate') throw new Error('the repeat was not a duplicate')
  await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events: events.slice(20) } })
  await checkpointOf(reader, 40)
  return { tenant, writer, reader, size: 40 }
}

async function verify (log: Log, options: { trusted?: Checkpoint, waitMs?: number } = {}): Promise<VerifyResult> {
  return verifyLog(await fromService(url, log.reader, undefined, options.trusted, options.waitMs ?? 2000))
}

function kindOf (result: VerifyResult): string {
  if (result.ok) return result.verified.uncovered === undefined ? 'verified' : `not covered from seq ${result.verified.uncovered.first}`
  return `${result.problem.kind}${result.problem.seq === undefined ? '' : ` at seq ${result.problem.seq}`}`
}

t.before(async () => {
  app = await build(t, { config })
  replica = await build(t, { config })
  await app.listen({ port: 0, host: '127.0.0.1' })
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const client = new MongoClient(MONGODB_URL)
  t.teardown(() => client.close())
  db = client.db(testDatabaseName)
})

t.test('an untouched log verifies, holes and all', async (t) => {
  const log = await freshLog('untouched')
  const result = await verify(log)
  t.same(result, {
    ok: true,
    verified: {
      events: 39,
      holes: 1,
      erased: 0,
      expired: 0,
      storedAfterExport: 0,
      treeSize: 40,
      root: (await checkpointOf(log.reader, 40)).root_hash
    }
  })
})

t.test('each tampering is named, with its seq', async (t) => {
  const cases: Array<{ name: string; tamper: (log: Log) => Promise<void>; expect: string; waitMs?: number }> = [
    {
      name: 'a changed field in one event',
      tamper: async (log) => {
        await db.collection('events').updateOne({ tenant: log.tenant, seq: 7 }, { $set: { description: 'nothing happened' } })
      },
      expect: 'modified at seq 7'
    },
    {
      name: 'a deleted event in the middle',
      tamper: async (log) => {
        await db.collection('events').deleteOne({ tenant: log.tenant, seq: 25 })
      },
      expect: 'missing at seq 25'
    },
    {
      name: "two events' seq swapped",
      tamper: async (log) => {
        const events = db.collection('events')
        await events.updateOne({ tenant: log.tenant, seq: 10 }, { $set: { seq: -10 } })
        await events.updateOne({ tenant: log.tenant, seq: 11 }, { $set: { seq: 10 } })
        await events.updateOne({ tenant: log.tenant, seq: -10 }, { $set: { seq: 11 } })
      },
      expect: 'reordered at seq 10'
    },
    {
      name: 'a back-dated timestamp',
      tamper: async (log) => {
        await db.collection('events').updateOne({ tenant: log.tenant, seq: 5 }, { $set: { timestamp: new Date('2020-01-01T00:00:00Z') } })
      },
      expect: 'modified at seq 5'
    },
    {
      name: 'a forged event with a fresh seq and a well-formed hash',
      tamper: async (log) => {
        const model = (await db.collection('events').findOne({ tenant: log.tenant, seq: 40 })) as Record<string, unknown>
        const forged: Record<string, unknown> = {
          ...model,
          seq: 41,
          description: 'a forged event',
          idem_key: 'e:forged',
          event_id: 'forged'
        }
        delete forged._id
        forged.hash = leafHash({ ...forged, id: '0123456789abcdef01234567', timestamp: (model.timestamp as Date).toISOString() })
        await db.collection('events').insertOne(forged)
      },
      // no signature covers it, so it is not verified; nor is it called a forgery: a checkpoint may only lag
      expect: 'not covered from seq 41',
      waitMs: 300
    },
    {
      name: 'an event written into a recorded hole',
      tamper: async (log) => {
        const model = (await db.collection('events').findOne({ tenant: log.tenant, seq: 40 })) as Record<string, unknown>
        const forged: Record<string, unknown> = {
          ...model,
          seq: 21,
          description: 'filled in later',
          idem_key: 'e:filler',
          event_id: 'filler'
        }
        delete forged._id
        await db.collection('events').insertOne(forged)
      },
      expect: 'forged at seq 21'
    },
    {
      name: 'a checkpoint whose signature does not match',
      tamper: async (log) => {
        for (const name of ['merkle_checkpoints', 'merkle_checkpoint_heads']) {
          await db.collection(name).updateMany({ tenant: log.tenant }, { $set: { root_hash: 'ab'.repeat(32) } })
        }
      },
      expect: 'bad signature'
    },
    {
      name: 'the whole tree rebuilt, by someone without the key',
      tamper: async (log) => {
        // change an event and give it a correct hash, then rebuild tiles, head and checkpoints to match
        const events = db.collection('events')
        const target = (await events.findOne({ tenant: log.tenant, seq: 12 })) as Record<string, unknown>
        const changed = { ...target, id: String(target._id), timestamp: (target.timestamp as Date).toISOString(), username: 'someone_else' }
        await events.updateOne({ _id: target._id as never }, { $set: { username: 'someone_else', hash: leafHash(changed) } })
        const tiles = await db.collection('merkle_tiles').find({ tenant: log.tenant }).toArray()
        const leaves = [
          ...Buffer.from((tiles[0]?.hashes ?? (await db.collection('merkle_heads').findOne({ tenant: log.tenant }))?.edges[0]).buffer)
        ]
        const hashes = Array.from({ length: log.size }, (_, i) => Buffer.from(leaves.slice(i * 32, i * 32 + 32)))
        hashes[11] = Buffer.from(leafHash(changed), 'hex')
        await db.collection('merkle_heads').deleteMany({ tenant: log.tenant })
        await db.collection('merkle_tiles').deleteMany({ tenant: log.tenant })
        const head = await new MerkleTrees(db).append({ tenant: log.tenant, size: 0, root: Buffer.alloc(32), edges: [] }, hashes)
        const { privateKey } = generateKeyPairSync('ed25519')
        const real = (await db.collection('merkle_checkpoint_heads').findOne({ tenant: log.tenant })) as unknown as Checkpoint
        const unsigned = { tenant: log.tenant, tree_size: log.size, root_hash: head.root.toString('hex'), issued_at: real.issued_at }
        const signature = sign(null, checkpointMessage(unsigned), privateKey).toString('base64')
        for (const name of ['merkle_checkpoints', 'merkle_checkpoint_heads']) {
          await db.collection(name).updateMany({ tenant: log.tenant }, { $set: { root_hash: unsigned.root_hash, signature } })
        }
      },
      expect: 'bad signature'
    }
  ]
  for (const [i, { name, tamper, expect, waitMs }] of cases.entries()) {
    const log = await freshLog(`tampered-${i}`)
    t.equal(kindOf(await verify(log)), 'verified', `before: ${name}`)
    await tamper(log)
    t.equal(kindOf(await verify(log, { waitMs })), expect, name)
  }
})

t.test('cutting off the newest events is caught against a checkpoint kept from before', async (t) => {
  const log = await freshLog('truncated')
  const earlier = await checkpointOf(log.reader, 40)
  await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(log.writer),
    payload: { events: Array.from({ length: 10 }, () => sampleEvent()) }
  })
  const kept = await checkpointOf(log.reader, 50)
  t.equal(kindOf(await verify(log, { trusted: kept })), 'verified', 'the log verifies against the kept checkpoint')

  // the newest 10 events and every checkpoint that covered them go; the earlier checkpoint is put back as the newest
  await db.collection('events').deleteMany({ tenant: log.tenant, seq: { $gt: 40 } })
  for (const name of ['merkle_checkpoints', 'merkle_checkpoint_heads']) {
    await db.collection(name).deleteMany({ tenant: log.tenant, tree_size: { $gt: 40 } })
  }
  // with no checkpoint stored the signer signs its tree again, at its next round (an idle signer looks once a second)
  await checkpointOf(log.reader, 50)
  const exported = (await fromService(url, log.reader, undefined, undefined, 0)).events.filter((event) => (event.seq as number) <= 40)
  const keys = (await app.inject({ method: 'GET', url: '/integrity/keys' })).json().keys
  const offline = verifyLog({ events: exported, checkpoint: earlier, keys, trusted: kept })
  t.equal(kindOf(offline), 'truncated at seq 41', 'offline: the presented checkpoint is smaller than the kept one')
  const online = kindOf(await verify(log, { trusted: kept }))
  t.ok(
    ['truncated at seq 41', 'missing at seq 41'].includes(online),
    `online: ${online} (the service re-signs its tree, which still holds the deleted events' leaves)`
  )
  t.equal(
    kindOf(verifyLog({ events: exported, checkpoint: earlier, keys })),
    'verified',
    'without a kept checkpoint, a truncation to an earlier signed state is invisible: keep one'
  )
})

t.test('the command line, online and offline', async (t) => {
  const log = await freshLog('cli')
  const dir = mkdtempSync(join(tmpdir(), 'verify-'))
  const run = async (args: string[]) =>
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/verifier/cli.ts', ...args]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout })
    )
  const online = await run(['--url', url, '--token', log.reader])
  t.same(
    [online.code, online.stdout.replace(/root [0-9a-f]+/, 'root R')],
    [0, 'verified 39 events, tree size 40, root R; 1 recorded holes\n'],
    'online: exit 0 and what was verified'
  )

  const get = async (path: string) => (await app.inject({ method: 'GET', url: path, headers: bearer(log.reader) })).payload
  writeFileSync(join(dir, 'events.ndjson'), await get('/events/export'))
  writeFileSync(join(dir, 'checkpoint.json'), await get('/integrity/checkpoint'))
  writeFileSync(join(dir, 'keys.json'), await get('/integrity/keys'))
  const files = ['--export', join(dir, 'events.ndjson'), '--checkpoint', join(dir, 'checkpoint.json'), '--keys', join(dir, 'keys.json')]
  t.equal((await run(files)).code, 0, 'offline: the same log verifies from files')
  await db.collection('events').updateOne({ tenant: log.tenant, seq: 3 }, { $set: { ip: '10.0.0.1' } })
  writeFileSync(join(dir, 'events.ndjson'), await get('/events/export'))
  const tampered = await run(files)
  t.same(
    [tampered.code, tampered.stdout],
    [1, 'FAILED: modified at seq 3: the event differs from what was signed\n'],
    'exit 1 with the first problem'
  )
  t.equal((await run(['--export', 'x'])).code, 2, 'a usage error exits 2')
})

t.test('a log written through two replicas and a restart verifies', async (t) => {
  const log = await freshLog('restarted')
  await replica.close()
  replica = await build(t, { config })
  const both = await Promise.all(
    [app, replica].flatMap((instance) =>
      Array.from(
        { length: 10 },
        async () => await instance.inject({ method: 'POST', url: '/events', headers: bearer(log.writer), payload: sampleEvent() })
      )
    )
  )
  t.ok(both.every((res) => res.statusCode === 201), 'events written through both replicas at once')
  await checkpointOf(log.reader, 60)
  t.equal(kindOf(await verify(log)), 'verified', 'the log verifies')
})
