import t from 'tap'
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { checkpointMessage, cosignedStep, hexToBytes, rootFromInclusionProof, signatureVerifies, type Checkpoint } from '../../ui/src/verify.js'
import { leafHashOf } from '../../ui/src/leaf.js'
import { commitment, committedValues, leafHash, saltOf } from '../../src/verifier/leaf.js'
import { BriefSampleEvent } from '../../src/schemas/event.js'

/**
 * The viewer's in-browser checks (ui/src/verify.ts), run here on Node's Web Crypto: RFC 9162 inclusion
 * proofs against a reference tree built independently below, and Ed25519 checkpoint signatures.
 */
const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest()
const leaf = (i: number) => sha(Buffer.of(0), Buffer.from(`leaf ${i}`))
const node = (left: Buffer, right: Buffer) => sha(Buffer.of(1), left, right)

/** RFC 9162 §2.1.1: MTH of leaves[lo, hi), split at the largest power of two below the size. */
function root (leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0] as Buffer
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return node(root(leaves.slice(0, k)), root(leaves.slice(k)))
}

/** RFC 9162 §2.1.3.1: PATH(m, D[n]). */
function path (m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length === 1) return []
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return m < k ? [...path(m, leaves.slice(0, k)), root(leaves.slice(k))] : [...path(m - k, leaves.slice(k)), root(leaves.slice(0, k))]
}

t.test('inclusion proofs of every leaf of trees of 1 to 17 leaves lead to the root; altered ones do not', async (t) => {
  for (let size = 1; size <= 17; size++) {
    const leaves = Array.from({ length: size }, (_, i) => leaf(i))
    const expected = root(leaves).toString('hex')
    for (let m = 0; m < size; m++) {
      const proof = path(m, leaves).map((hash) => new Uint8Array(hash))
      const computed = await rootFromInclusionProof(m, size, new Uint8Array(leaves[m] as Buffer), proof)
      t.equal(computed === null ? null : Buffer.from(computed).toString('hex'), expected, `leaf ${m} of ${size}`)
      const wrongLeaf = await rootFromInclusionProof(m, size, new Uint8Array(leaf(size + 1)), proof)
      t.not(wrongLeaf === null ? null : Buffer.from(wrongLeaf).toString('hex'), expected, `another leaf at ${m} of ${size} does not verify`)
      if (size > 1) {
        const wrongIndex = await rootFromInclusionProof((m + 1) % size, size, new Uint8Array(leaves[m] as Buffer), proof)
        t.not(
          wrongIndex === null ? null : Buffer.from(wrongIndex).toString('hex'),
          expected,
          `leaf ${m} claimed at another index of ${size} does not verify`
        )
      }
    }
  }
  t.equal(await rootFromInclusionProof(3, 3, new Uint8Array(leaf(0)), []), null, 'an index outside the tree is malformed')
})

t.test('a checkpoint\'s Ed25519 signature verifies with the published key, and not once anything signed changes', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  // the raw 32 bytes, as GET /integrity/keys publishes them: the end of the SPKI DER
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')
  const unsigned = {
    tenant: 'tenant-a',
    tree_size: 42,
    root_hash: 'ab'.repeat(32),
    issued_at: '2026-12-01T00:00:00.000Z',
    key_id: 'k1',
    signature: ''
  }
  const checkpoint: Checkpoint = {
    ...unsigned,
    signature: sign(null, Buffer.from(checkpointMessage(unsigned)), privateKey).toString('base64')
  }
  t.equal(
    Buffer.from(checkpointMessage(checkpoint)).toString(),
    'audit-log checkpoint v1\ntenant-a\n42\n' + 'ab'.repeat(32) + '\n2026-12-01T00:00:00.000Z\n',
    'the signed text of the contract'
  )
  const key = { key_id: 'k1', algorithm: 'Ed25519', public_key: raw }
  t.equal(await signatureVerifies(checkpoint, key), true, 'the signature verifies')
  t.equal(await signatureVerifies({ ...checkpoint, tree_size: 43 }, key), false, 'another tree size does not')
  t.equal(await signatureVerifies({ ...checkpoint, root_hash: 'cd'.repeat(32) }, key), false, 'another root does not')
  const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')
  t.equal(await signatureVerifies(checkpoint, { ...key, public_key: other }), false, 'another key does not')
  t.throws(() => hexToBytes('xyz'), 'malformed hex is refused')
})

t.test('the page recomputes the leaf hash exactly as the verifier does, erased fields included', async (t) => {
  const event = {
    id: '6650d1f2a1b2c3d4e5f60718',
    seq: 3,
    tenant: 'acme',
    timestamp: '2026-12-01T10:00:00.000Z',
    submitted_by: 'bot',
    ...BriefSampleEvent,
    event_specificdetails: {
      ...BriefSampleEvent.event_specificdetails,
      amount: 12.5,
      nested: { list: [1, 'two', null], empty: {} },
      ключ: 'ü'
    },
    event_id: 'e-3',
    occurred_at: '2026-12-01T09:59:00.000Z',
    salt: randomBytes(16).toString('base64url')
  }
  t.equal(await leafHashOf(event), leafHash(event), 'the same leaf hash as src/verifier/leaf.ts')
  t.not(await leafHashOf({ ...event, ip: '10.0.0.1' }), leafHash(event), 'a changed field changes it')
  const salts = Object.fromEntries(
    committedValues(event)
      .filter(([path]) => path !== 'username')
      .map(([path]) => [path, saltOf(event, path).toString('base64url')])
  )
  const erased = {
    ...event,
    username: null,
    salt: undefined,
    salts,
    commitments: { username: commitment(saltOf(event, 'username'), event.username) },
    erased: ['username']
  }
  t.equal(await leafHashOf(erased), leafHash(event), 'and after an erasure')
  await t.rejects(
    leafHashOf({ ...erased, username: 'mallory' }),
    /username is listed as erased but has a value/,
    'like the verifier, it refuses a value beside an erased path'
  )
  await t.rejects(
    leafHashOf({ ...erased, erased: ['username', 'event_type'] }),
    /event_type is listed as erased but the event has no such field/,
    'and an erased path the event does not have'
  )
})

t.test('Verify shows who cosigned the checkpoint, and nothing when no witness did', async (t) => {
  const checkpoint = { tenant: 't', tree_size: 3, root_hash: 'ab', issued_at: '2026-12-07T12:00:00.000Z', key_id: 'k', signature: 's', note: 'n' }
  t.equal(cosignedStep(checkpoint), undefined)
  t.equal(cosignedStep({ ...checkpoint, witnessed: false, cosignatures: [] }), undefined)
  const step = cosignedStep({ ...checkpoint, witnessed: true, cosignatures: [{ witness: 'witness.example/w1', timestamp: '2026-12-07T12:00:01.000Z' }] })
  t.same(step, { label: 'Witnesses cosigned the checkpoint', ok: true, detail: 'witness.example/w1 at 2026-12-07T12:00:01.000Z' })
  const short = cosignedStep({ ...checkpoint, witnessed: false, cosignatures: [{ witness: 'w1', timestamp: 'T' }] })
  t.match(short?.detail, /not yet witnessed/)
})
