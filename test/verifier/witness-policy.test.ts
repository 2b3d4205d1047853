import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { checkWitnessPolicy, parseWitnessPolicy, PolicyError } from '../../src/verifier/witness-policy.js'
import { COSIGNATURE_V1_TYPE } from '../../src/verifier/cosignature.js'
import { formatVerifierKey, keyIdOf } from '../../src/verifier/signed-note.js'
import type { Checkpoint } from '../../src/verifier/checkpoint.js'

/**
 * A witness policy against a checkpoint whose note carries a cosignature litewitness made (the bytes of
 * test/verifier/cosignature.test.ts); the log's own signature line is not this check's business (verifyLog's).
 */
const WITNESS_VKEY = 'witness.example/w1+658d5487+BOPaTVUWdpiVpDRiUIGQHCD2RwXnHKhYgeaFJLr/LybM'
const TEXT = 'audit-log.example/acme\n1\nAippeebat6pa5MPl5F9+l3ESp+Y1k4INvsHsc4ok+Tw=\n'
const LOG_LINE = '\u2014 audit-log.example/acme DaIxSAAAAA==\n'
const COSIGNATURE = '\u2014 witness.example/w1 ZY1UhwAAAABrFp1Svm58ZRHVXgPhGUXSGJfQ+qJnbLLeN6047H3BJfXBoftSdt3kFItUteo+9kcIcD409qEuGBn5yDo7JtuWE33pDg==\n'

function checkpoint (note?: string): Checkpoint {
  return {
    tenant: 'acme',
    tree_size: 1,
    root_hash: Buffer.from('Aippeebat6pa5MPl5F9+l3ESp+Y1k4INvsHsc4ok+Tw=', 'base64').toString('hex'),
    issued_at: '2026-12-07T11:49:38.000Z',
    key_id: '0000000000000000',
    signature: '',
    ...(note === undefined ? {} : { note })
  }
}

/** Another witness's vkey, whose cosignature the note does not carry. */
function otherWitness (name: string): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
  return formatVerifierKey({ name, keyId: keyIdOf(name, COSIGNATURE_V1_TYPE, raw), type: COSIGNATURE_V1_TYPE, publicKey: raw })
}

t.test('a quorum of the listed witnesses passes, and says who cosigned when', async (t) => {
  const policy = parseWitnessPolicy(JSON.stringify({ witnesses: [{ vkey: WITNESS_VKEY, url: 'https://ignored' }, { vkey: otherWitness('w2') }], quorum: 1 }))
  const check = checkWitnessPolicy(checkpoint(TEXT + '\n' + LOG_LINE + COSIGNATURE), policy)
  t.equal(check.ok, true)
  t.same(check.cosigners, [{ witness: 'witness.example/w1', timestamp: '2026-12-07T11:49:38.000Z' }])
  t.match(check.detail, /1 of the policy's 2 witnesses cosigned tree size 1 .*the quorum is 1/)
})

t.test('without the quorum, or without a note, or with a cosignature over another text, it fails', async (t) => {
  const both = parseWitnessPolicy(JSON.stringify({ witnesses: [{ vkey: WITNESS_VKEY }, { vkey: otherWitness('w2') }] }))
  t.equal(both.quorum, 2, 'the quorum defaults to every witness')
  t.equal(checkWitnessPolicy(checkpoint(TEXT + '\n' + LOG_LINE + COSIGNATURE), both).ok, false, 'one of two')
  const one = parseWitnessPolicy(JSON.stringify({ witnesses: [{ vkey: WITNESS_VKEY }] }))
  t.equal(checkWitnessPolicy(checkpoint(TEXT + '\n' + LOG_LINE), one).ok, false, 'not cosigned')
  t.match(checkWitnessPolicy(checkpoint(), one).detail, /not a C2SP note/, 'a checkpoint of the first format')
  const otherSize = TEXT.replace('\n1\n', '\n2\n') + '\n' + LOG_LINE + COSIGNATURE
  t.equal(checkWitnessPolicy(checkpoint(otherSize), one).ok, false, 'the cosignature of size 1 moved onto size 2')
  t.equal(checkWitnessPolicy(checkpoint('not a note'), one).ok, false, 'a malformed note')
})

t.test('a policy file is checked when read', async (t) => {
  t.throws(() => parseWitnessPolicy('nope'), PolicyError)
  t.throws(() => parseWitnessPolicy('{"witnesses": []}'), /at least one witness/)
  t.throws(() => parseWitnessPolicy(JSON.stringify({ witnesses: [{ vkey: WITNESS_VKEY }], quorum: 2 })), /quorum must be/)
  t.throws(() => parseWitnessPolicy(JSON.stringify({ witnesses: [{ vkey: WITNESS_VKEY }, { vkey: WITNESS_VKEY }] })), /each witness once/)
  t.throws(() => parseWitnessPolicy(JSON.stringify({ witnesses: [{ vkey: 'audit-log.example/acme+0da23148+AXaxQx+gZhUO5sknVoodm+kTHNP7fcYXm9NvG+Kemg3P' }] })), /type 0x04/)
})
