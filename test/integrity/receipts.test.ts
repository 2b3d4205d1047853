import t from 'tap'
import { execFile } from 'node:child_process'
import { createPrivateKey, sign } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { MongoClient, type Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { bearer, build, MONGODB_URL, sampleEvent, TEST_SIGNING_KEY_FILE, testDatabaseName, userWithToken } from '../helper.js'
import { checkpointMessage, type Checkpoint, type PublishedKey } from '../../src/verifier/checkpoint.js'
import { holeLeafHash, leafHash, type EventForLeaf } from '../../src/verifier/leaf.js'
import { rootAndPaths, rootFromLeafHashes, verifyInclusion } from '../../src/verifier/merkle.js'
import { checkReceiptSignature, type Receipt } from '../../src/verifier/receipt.js'
import { parseNdjson } from '../../src/verifier/online.js'

/**
 * Signed receipts: every ingest answer carries the service's signed promise of (tenant, seq, leaf hash, receipt
 * time), checkable with the published keys alone; and `npm run verify -- --receipts` turns a kept receipt into
 * evidence against a log rewritten or cut through a second database client, even one the key re-signed.
 */
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50 }

let app: FastifyInstance
let url: string
let db: Db
let keys: PublishedKey[]

t.before(async () => {
  app = await build(t, { config })
  await app.listen({ port: 0, host: '127.0.0.1' })
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const client = new MongoClient(MONGODB_URL)
  t.teardown(() => client.close())
  db = client.db(testDatabaseName)
  keys = (await app.inject({ method: 'GET', url: '/integrity/keys' })).json().keys
})

async function tenantWith (tenant: string): Promise<{ writer: string, reader: string }> {
  return {
    writer: await userWithToken(app, { username: `${tenant}-w`, roles: ['writer'], tenant }),
    reader: await userWithToken(app, { username: `${tenant}-r`, roles: ['reader'], tenant })
  }
}

async function post (path: string, token: string, payload: Record<string, unknown>) {
  return await app.inject({ method: 'POST', url: path, headers: bearer(token), payload })
}

const cli = async (args: string[]) =>
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/verifier/cli.ts', ...args]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout })
  )

async function settled (reader: string, size: number): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const res = await app.inject({ method: 'GET', url: '/integrity/checkpoint', headers: bearer(reader) })
    if (res.statusCode === 200 && res.json().tree_size >= size) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`no checkpoint of size ${size}`)
}

t.test('a batch tree: every path leads its leaf to the root, for every size', async (t) => {
  for (let size = 1; size <= 33; size++) {
    const leaves = Array.from({ length: size }, (_, i) => Buffer.alloc(32, i + 1))
    const { root, paths } = rootAndPaths(leaves)
    t.ok(root.equals(rootFromLeafHashes(leaves)), `size ${size}: the root is MTH`)
    t.ok(leaves.every((leaf, i) => verifyInclusion(i, size, leaf, paths[i] as Buffer[], root)), `size ${size}: every path verifies`)
  }
})

t.test('single, legacy and batch ingest each answer with a receipt the published key verifies', async (t) => {
  const { writer } = await tenantWith('answers')
  const single = (await post('/events', writer, sampleEvent({ event_id: 'one' }))).json()
  const legacy = (await post('/event', writer, sampleEvent())).json()
  const batch = (await post('/events/batch', writer, { events: [sampleEvent(), sampleEvent({ event_id: 'one' }), sampleEvent()] })).json()
  const repeat = (await post('/events', writer, sampleEvent({ event_id: 'one' }))).json()
  const answers = [single, legacy, ...batch.items, repeat]
  for (const answer of answers) {
    t.match(answer.receipt, { tenant: 'answers', seq: answer.seq, leaf_hash: answer.hash, timestamp: answer.timestamp, key_id: keys[0]?.key_id })
    t.equal(checkReceiptSignature(answer.receipt, keys), 'ok', `seq ${answer.seq} (${answer.status as string}): the signature holds`)
  }
  t.same(
    [single.receipt.batch_size, legacy.receipt.batch_size, batch.items.map((item: { receipt: Receipt }) => item.receipt.batch_index)],
    [1, 1, [0, 1, 2]],
    "a batch's receipts share one signature, each with its place and path"
  )
  t.equal(new Set(batch.items.map((item: { receipt: Receipt }) => item.receipt.signature)).size, 1)
  t.match([batch.items[1].status, repeat.status], ['duplicate', 'duplicate'])
  t.same(
    [batch.items[1].receipt.seq, batch.items[1].receipt.leaf_hash, repeat.receipt.seq, repeat.receipt.timestamp],
    [single.seq, single.hash, single.seq, single.timestamp],
    "a duplicate's receipt promises the first event"
  )
  t.ok(app.signerState.receiptedThrough('answers') >= batch.items[2].seq, "the signer's record covers every seq receipted")

  const forged = { ...single.receipt, seq: single.seq + 1 }
  t.equal(checkReceiptSignature(forged, keys), 'bad signature', 'a receipt changed after signing does not verify')
  t.equal(checkReceiptSignature({ ...single.receipt, batch_path: ['00'] }, keys), 'bad path')
})

t.test('with INGEST_RECEIPTS off the answers carry none', async (t) => {
  const off = await build(t, { config: { ...config, INGEST_RECEIPTS: false } })
  const writer = await userWithToken(off, { username: 'off-w', roles: ['writer'], tenant: 'off' })
  const answer = (await off.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: sampleEvent() })).json()
  t.equal(answer.status, 'created')
  t.notOk('receipt' in answer)
})

t.test("a bulk write whose receipts are being sealed does not hold the database's turn", async (t) => {
  const one = await build(t, { config: { ...config, INGEST_RECEIPTS: false, GROUP_COMMIT_MAX_IN_FLIGHT: 1 } })
  t.equal(one.eventWriter.maxInFlight, 1, 'one bulk write at a time')
  let releaseFirst = () => {}
  const firstHeld = new Promise<void>((resolve) => { releaseFirst = resolve })
  let firstSealing = () => {}
  const firstStarted = new Promise<void>((resolve) => { firstSealing = resolve })
  let secondSealing = () => {}
  const secondStarted = new Promise<void>((resolve) => { secondSealing = resolve })
  let seals = 0
  // a seal that waits (as one waits for the signer's record to reach the disk)
  one.eventWriter.sealWith({
    seal: async () => {
      seals++
      if (seals === 1) {
        firstSealing()
        await firstHeld
      } else {
        secondSealing()
      }
    }
  })
  const principal = { tenant: 'pipelined', username: 'w' }
  const first = one.eventWriter.write(principal, [sampleEvent() as never])
  await firstStarted
  const second = one.eventWriter.write(principal, [sampleEvent() as never])
  const outcome = await Promise.race([
    secondStarted.then(() => 'written while the first was sealed'),
    new Promise((resolve) => setTimeout(() => resolve('the second write waited for the first seal'), 20_000))
  ])
  t.equal(outcome, 'written while the first was sealed')
  releaseFirst()
  t.match(await Promise.all([first, second]), [[{ status: 'created' }], [{ status: 'created' }]])
})

/** Kept receipts of a fresh tenant's 12 events, and the files the offline verifier reads. */
async function keptReceipts (tenant: string) {
  const { writer, reader } = await tenantWith(tenant)
  const receipts: Receipt[] = []
  for (let i = 0; i < 2; i++) receipts.push((await post('/events', writer, sampleEvent({ event_id: `s-${i}` }))).json().receipt)
  const batch = (await post('/events/batch', writer, { events: Array.from({ length: 10 }, (_, i) => sampleEvent({ event_specificdetails: { n: i } })) })).json()
  receipts.push(...batch.items.map((item: { receipt: Receipt }) => item.receipt))
  await settled(reader, 12)
  const dir = mkdtempSync(join(tmpdir(), 'receipts-'))
  const file = join(dir, 'receipts.jsonl')
  writeFileSync(file, receipts.map((receipt) => JSON.stringify(receipt)).join('\n') + '\n')
  const get = async (path: string) => (await app.inject({ method: 'GET', url: path, headers: bearer(reader) })).payload
  writeFileSync(join(dir, 'keys.json'), await get('/integrity/keys'))
  return { reader, file, dir, get }
}

/** A second database client rewrites the event at `seq` and recomputes its stored hash, as an insider would. */
async function rewrite (tenant: string, seq: number, reader: string): Promise<void> {
  const stored = await db.collection('events').findOne({ tenant, seq })
  const shown = (await app.inject({ method: 'GET', url: `/events/${String(stored?._id)}`, headers: bearer(reader) })).json()
  const hash = leafHash({ ...shown, description: 'nothing happened' })
  await db.collection('events').updateOne({ tenant, seq }, { $set: { description: 'nothing happened', hash } })
}

t.test('kept receipts hold against an untouched log, online and offline', async (t) => {
  const { reader, file, dir, get } = await keptReceipts('kept')
  const online = await cli(['--url', url, '--token', reader, '--receipts', file])
  t.equal(online.code, 0, online.stdout)
  t.match(online.stdout, /^12 receipts hold: each signed by a published key, each seq holds the event it promised\nverified 12 events/)
  writeFileSync(join(dir, 'events.ndjson'), await get('/events/export'))
  const offline = await cli(['--export', join(dir, 'events.ndjson'), '--keys', join(dir, 'keys.json'), '--receipts', file])
  t.same([offline.code, offline.stdout], [0, '12 receipts hold: each signed by a published key, each seq holds the event it promised\n'])
})

t.test('a receipt checked after a rewrite names the rewrite, even when the key re-signed the rewritten history', async (t) => {
  const { reader, file, dir, get } = await keptReceipts('rewritten')
  await rewrite('rewritten', 5, reader)

  const online = await cli(['--url', url, '--token', reader, '--receipts', file])
  t.equal(online.code, 1)
  t.match(online.stdout, /^FAILED: receipt contradicted at seq 5: receipt 5 \(signed by key [0-9a-f]{16}\) promised leaf [0-9a-f]{64}; the event the log holds here has leaf /)

  // the operator, holding the key, signs a checkpoint over the rewritten log: the log alone then verifies
  writeFileSync(join(dir, 'events.ndjson'), await get('/events/export'))
  const events = parseNdjson(readFileSync(join(dir, 'events.ndjson'), 'utf8'))
  const bySeq = new Map(events.map((event: EventForLeaf) => [event.seq as number, event]))
  const size = Math.max(...bySeq.keys())
  const leaves = Array.from({ length: size }, (_, i) => {
    const event = bySeq.get(i + 1)
    return Buffer.from(event === undefined ? holeLeafHash('rewritten', i + 1) : leafHash(event), 'hex')
  })
  const resigned = { tenant: 'rewritten', tree_size: size, root_hash: rootFromLeafHashes(leaves).toString('hex'), issued_at: new Date().toISOString(), key_id: keys[0]?.key_id as string }
  const checkpoint: Checkpoint = { ...resigned, signature: sign(null, checkpointMessage(resigned), createPrivateKey(readFileSync(TEST_SIGNING_KEY_FILE))).toString('base64') }
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(checkpoint))
  const files = ['--export', join(dir, 'events.ndjson'), '--checkpoint', join(dir, 'checkpoint.json'), '--keys', join(dir, 'keys.json')]
  t.equal((await cli(files)).code, 0, 'without the receipts, the re-signed rewrite verifies')
  const withReceipts = await cli([...files, '--receipts', file])
  t.equal(withReceipts.code, 1, 'with them it is evidence')
  t.match(withReceipts.stdout, /^FAILED: receipt contradicted at seq 5: receipt 5 .*\nverified 12 events/)
})

t.test('a receipt whose event was deleted names the seq', async (t) => {
  const { reader, file, dir, get } = await keptReceipts('deleted')
  await db.collection('events').deleteOne({ tenant: 'deleted', seq: 9 })
  const online = await cli(['--url', url, '--token', reader, '--receipts', file])
  t.equal(online.code, 1)
  t.match(online.stdout, /^FAILED: receipt contradicted at seq 9: receipt 9 \(signed by key [0-9a-f]{16}\) promised leaf [0-9a-f]{64} at this seq; the log has no event here\n/)
  writeFileSync(join(dir, 'events.ndjson'), await get('/events/export'))
  const offline = await cli(['--export', join(dir, 'events.ndjson'), '--keys', join(dir, 'keys.json'), '--receipts', file])
  t.same([offline.code, offline.stdout.split('\n')[0]?.replace(/leaf [0-9a-f]{64}/, 'leaf L').replace(/key [0-9a-f]{16}/, 'key K')], [1, 'FAILED: receipt contradicted at seq 9: receipt 9 (signed by key K) promised leaf L at this seq; the log has no event here'])
})

t.test('a receipt not signed by a published key is refused, not evidence', async (t) => {
  const { file, dir, get } = await keptReceipts('unsigned')
  const [first, ...rest] = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Receipt)
  writeFileSync(file, JSON.stringify([{ ...first, leaf_hash: 'f'.repeat(64) }, ...rest]))
  writeFileSync(join(dir, 'events.ndjson'), await get('/events/export'))
  const offline = await cli(['--export', join(dir, 'events.ndjson'), '--keys', join(dir, 'keys.json'), '--receipts', file])
  t.same([offline.code, offline.stdout], [1, 'FAILED: bad receipt at seq 1: receipt 1: its signature does not match\n'])
})
