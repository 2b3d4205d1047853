import t from 'tap'
import { generateKeyPairSync, sign } from 'node:crypto'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'
import { checkpointMessage, checkSignature, keyIdOf, type Checkpoint, type PublishedKey } from '../../src/verifier/checkpoint.js'
import { checkEd25519, parseNote, parseVerifierKey } from '../../src/verifier/signed-note.js'
import { parseCheckpointText } from '../../src/verifier/tlog-checkpoint.js'
import { noteVerifies } from '../../ui/src/checkpoint-note.js'

/**
 * Checkpoints are C2SP signed notes (#27): the origin AUDIT_LOG_ORIGIN/tenant, the size and the base64 root,
 * signed by the Ed25519 key under the origin as key name, which GET /integrity/keys?tenant= gives as a verifier
 * key. Checkpoints of the first format (signed custom text, no note) keep verifying.
 */
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50, AUDIT_LOG_ORIGIN: 'audit.test.example/logs' }

t.test('a checkpoint is a signed note that the verifier key of GET /integrity/keys?tenant= opens', async (t) => {
  const app = await build(t, { config })
  const tenant = 'c2sp tenant+1'
  const writer = await userWithToken(app, { username: 'c2sp-writer', roles: ['writer', 'reader'], tenant })
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: sampleEvent({ event_id: `c-${i}` }) })).statusCode, 201)
  }
  const res = await app.inject({ method: 'GET', url: '/integrity/checkpoint?min_tree_size=3', headers: bearer(writer) })
  t.equal(res.statusCode, 200)
  const checkpoint = res.json() as Checkpoint
  t.type(checkpoint.note, 'string', 'the JSON carries the note')
  const note = parseNote(checkpoint.note as string)
  const text = parseCheckpointText(note.text)
  t.equal(text.origin, 'audit.test.example/logs/c2sp%20tenant%2B1', 'origin: AUDIT_LOG_ORIGIN / the tenant percent-encoded')
  t.equal(text.size, checkpoint.tree_size)
  t.equal(text.root.toString('hex'), checkpoint.root_hash)
  t.same(note.signatures.map((sig) => sig.name), [text.origin], 'one signature, under the origin as key name')

  const keys = await app.inject({ method: 'GET', url: `/integrity/keys?tenant=${encodeURIComponent(tenant)}` })
  t.equal(keys.json().origin, text.origin)
  const [key] = keys.json().keys as Array<PublishedKey & { verifier_key: string }>
  const vkey = parseVerifierKey(key?.verifier_key as string)
  t.equal(vkey.name, text.origin)
  t.equal(checkEd25519(note, vkey), 'ok', 'the note verifies with the published verifier key')
  t.equal(checkSignature(checkpoint, [key as PublishedKey]), 'ok', "the verifier's check of the JSON checkpoint")
  t.equal(await noteVerifies({ ...checkpoint, note: checkpoint.note as string }, Buffer.from(key?.public_key as string, 'base64')), true, "and the viewer's")
  t.notOk('verifier_key' in (await app.inject({ method: 'GET', url: '/integrity/keys' })).json().keys[0], 'no tenant: no verifier key')
  t.equal((await app.inject({ method: 'GET', url: '/integrity/keys?tenant=' })).statusCode, 400, 'an empty tenant is refused')

  // what the JSON says must be what the note says
  const publicKey = Buffer.from(key?.public_key as string, 'base64')
  t.equal(checkSignature({ ...checkpoint, tree_size: checkpoint.tree_size + 1 }, [key as PublishedKey]), 'bad signature', 'another size')
  t.equal(checkSignature({ ...checkpoint, tenant: 'other' }, [key as PublishedKey]), 'bad signature', "another tenant's log")
  t.equal(checkSignature({ ...checkpoint, note: (checkpoint.note as string).replace(`\n${checkpoint.tree_size}\n`, '\n9\n') }, [key as PublishedKey]),
    'bad signature', 'a note of another size')
  t.equal(await noteVerifies({ ...checkpoint, tree_size: 9, note: checkpoint.note as string }, publicKey), false, 'the viewer refuses it too')
})

t.test('a checkpoint of the first format (custom signed text) still verifies, in the verifier and the viewer', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
  const key: PublishedKey = { key_id: keyIdOf(raw), algorithm: 'Ed25519', public_key: raw.toString('base64') }
  const unsigned = { tenant: 'old', tree_size: 5, root_hash: 'ab'.repeat(32), issued_at: '2026-01-01T00:00:00.000Z' }
  const old: Checkpoint = { ...unsigned, key_id: key.key_id, signature: sign(null, checkpointMessage(unsigned), privateKey).toString('base64') }
  t.equal(checkSignature(old, [key]), 'ok')
  t.equal(checkSignature({ ...old, issued_at: '2026-01-02T00:00:00.000Z' }, [key]), 'bad signature', 'its issued_at is signed')
})
