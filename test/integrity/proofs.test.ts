import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'
import { leafHash } from '../../src/verifier/leaf.js'
import { verifyConsistency, verifyInclusion } from '../../src/verifier/merkle.js'
import { checkSignature, type Checkpoint, type PublishedKey } from '../../src/verifier/checkpoint.js'

/**
 * The tamper-evidence API as a client uses it: receipts carry the leaf hash, checkpoints are signed,
 * and inclusion and consistency proofs check out with the verifier's own functions.
 */
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50 }

async function get (app: FastifyInstance, token: string | undefined, url: string) {
  return await app.inject({ method: 'GET', url, headers: token === undefined ? {} : bearer(token) })
}

/** Waits for a checkpoint covering at least `size` leaves. */
async function checkpointOf (app: FastifyInstance, token: string, size: number): Promise<Checkpoint> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const res = await get(app, token, '/integrity/checkpoint')
    if (res.statusCode === 200 && res.json().tree_size >= size) return res.json()
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`no checkpoint of size ${size}`)
}

const bytes = (hex: string) => Buffer.from(hex, 'hex')

t.test('receipts, checkpoints, inclusion and consistency proofs', async (t) => {
  const app = await build(t, { config })
  const writer = await userWithToken(app, { username: 'proof-writer', roles: ['writer'], tenant: 'tenant-p' })
  const reader = await userWithToken(app, { username: 'proof-reader', roles: ['reader'], tenant: 'tenant-p' })
  const stranger = await userWithToken(app, { username: 'proof-stranger', roles: ['reader', 'writer'], tenant: 'tenant-q' })

  t.equal((await get(app, reader, '/integrity/checkpoint')).json().code, 'NOT_FOUND', 'no checkpoint before the first event')
  const keys = (await get(app, undefined, '/integrity/keys')).json().keys as PublishedKey[]
  t.equal(keys.length, 1, 'GET /integrity/keys needs no token and lists the signing key')

  const single = await app.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: sampleEvent({ event_id: 'one' }) })
  const batch = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(writer),
    payload: {
      events: Array.from({ length: 299 }, (_, i) =>
        sampleEvent({ event_id: `b-${i}`, event_specificdetails: { n: i, nested: { card: 'visa' } } })
      )
    }
  })
  const receipts = [single.json(), ...batch.json().items] as Array<{ id: string, seq: number, hash: string }>
  t.ok(receipts.every((receipt) => /^[0-9a-f]{64}$/.test(receipt.hash)), 'every receipt carries the leaf hash')
  const repeat = await app.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: sampleEvent({ event_id: 'one' }) })
  t.equal(repeat.json().hash, receipts[0]?.hash, 'a duplicate answers the first event\'s hash')

  const stored = (await get(app, reader, `/events/${receipts[7]?.id as string}`)).json()
  t.equal(stored.hash, receipts[7]?.hash, 'GET /events/{id} gives the receipt\'s hash')
  t.equal(leafHash(stored), stored.hash, 'and the hash is recomputed from the event as returned')
  t.equal(leafHash({ ...stored, description: 'changed' }), leafHash({ ...stored, description: 'changed' }), 'the leaf is deterministic')
  t.not(leafHash({ ...stored, description: 'changed' }), stored.hash, 'a changed field changes the leaf')

  const first = await checkpointOf(app, reader, 300)
  t.equal(checkSignature(first, keys), 'ok', 'the checkpoint is signed by the published key')
  t.equal(checkSignature({ ...first, root_hash: '00'.repeat(32) }, keys), 'bad signature', 'a changed root breaks the signature')

  for (const receipt of [receipts[0], receipts[255], receipts[256], receipts[299]]) {
    const { seq, hash } = receipt as { seq: number, hash: string }
    const proof = (await get(app, reader, `/integrity/inclusion?seq=${seq}&tree_size=${first.tree_size}`)).json()
    t.equal(proof.leaf_hash, hash, `seq ${seq}: the tree holds the receipt's hash`)
    t.ok(
      verifyInclusion(seq - 1, first.tree_size, bytes(proof.leaf_hash), proof.audit_path.map(bytes), bytes(first.root_hash)),
      `seq ${seq}: the audit path leads to the signed root`
    )
  }
  const byId = (await get(app, reader, `/events/${receipts[42]?.id as string}/proof`)).json()
  t.same(
    [byId.seq, byId.leaf_hash],
    [receipts[42]?.seq, receipts[42]?.hash],
    'GET /events/{id}/proof proves the event, against the newest checkpoint by default'
  )
  t.equal((await get(app, stranger, `/events/${receipts[42]?.id as string}/proof`)).statusCode, 404, 'another tenant\'s event is not found')

  const tile = (await get(app, reader, '/integrity/tiles/0/0')).json()
  t.same([tile.width, tile.hashes[5]], [256, receipts[5]?.hash], 'tile 0/0 holds the first 256 leaf hashes')
  t.equal((await get(app, reader, '/integrity/tiles/0/1')).json().width, first.tree_size - 256, 'the right edge is a partial tile')

  await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(writer),
    payload: { events: Array.from({ length: 40 }, () => sampleEvent()) }
  })
  const second = await checkpointOf(app, reader, first.tree_size + 40)
  const consistency = (await get(app, reader, `/integrity/consistency?from=${first.tree_size}&to=${second.tree_size}`)).json()
  t.ok(
    verifyConsistency(first.tree_size, second.tree_size, bytes(first.root_hash), bytes(second.root_hash), consistency.proof.map(bytes)),
    'the newer checkpoint is consistent with the older one'
  )
  t.notOk(
    verifyConsistency(first.tree_size, second.tree_size, bytes('11'.repeat(32)), bytes(second.root_hash), consistency.proof.map(bytes)),
    'and not with another root'
  )
  t.same(
    (await get(app, reader, `/integrity/checkpoint?tree_size=${first.tree_size}`)).json(),
    first,
    'an earlier checkpoint stays available by size'
  )

  t.equal(
    (await get(app, reader, `/integrity/inclusion?seq=${second.tree_size + 1000}`)).json().code,
    'NOT_IN_TREE',
    'a seq beyond the tree is NOT_IN_TREE'
  )
  t.equal(
    (await get(app, reader, `/integrity/consistency?from=1&to=${second.tree_size + 1000}`)).json().code,
    'NOT_IN_TREE',
    'so is a size beyond it'
  )
  t.equal((await get(app, reader, '/integrity/consistency?from=9&to=3')).statusCode, 404, 'from after to has no proof')
  t.equal((await get(app, reader, '/integrity/checkpoint?tree_size=abc')).statusCode, 400, 'a malformed size is a 400')
  t.equal((await get(app, stranger, '/integrity/checkpoint')).json().code, 'NOT_FOUND', 'another tenant has its own tree')
})
