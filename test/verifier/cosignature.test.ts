import t from 'tap'
import { checkCosignature, cosignedMessage, findCosignature, parseWitnessKey } from '../../src/verifier/cosignature.js'
import { formatVerifierKey, parseNote, NoteError } from '../../src/verifier/signed-note.js'

/**
 * A cosignature litewitness (filippo.io/torchwood v0.6.1, started by scripts/litewitness.sh) returned for a
 * checkpoint of one leaf: our check must accept the bytes a witness nobody here wrote makes, and nothing else.
 */
const WITNESS_VKEY = 'witness.example/w1+658d5487+BOPaTVUWdpiVpDRiUIGQHCD2RwXnHKhYgeaFJLr/LybM'
const TEXT = 'audit-log.example/acme\n1\nAippeebat6pa5MPl5F9+l3ESp+Y1k4INvsHsc4ok+Tw=\n'
const COSIGNATURE = '\u2014 witness.example/w1 ZY1UhwAAAABrFp1Svm58ZRHVXgPhGUXSGJfQ+qJnbLLeN6047H3BJfXBoftSdt3kFItUteo+9kcIcD409qEuGBn5yDo7JtuWE33pDg==\n'

function signatureOf (line: string) {
  const [signature] = parseNote(TEXT + '\n' + line).signatures
  if (signature === undefined) throw new Error('no signature line')
  return signature
}

t.test("litewitness's cosignature verifies, with its timestamp", async (t) => {
  const key = parseWitnessKey(WITNESS_VKEY)
  t.equal(formatVerifierKey(key), WITNESS_VKEY, 'the vkey reads back as written')
  const check = checkCosignature(TEXT, signatureOf(COSIGNATURE), key)
  t.equal(check.result, 'ok')
  t.equal(check.result === 'ok' ? new Date(check.timestamp * 1000).toISOString() : '', '2026-12-07T11:49:38.000Z', 'when the witness signed it')
  t.match(cosignedMessage(TEXT, 1).toString(), /^cosignature\/v1\ntime 1\naudit-log\.example\/acme\n1\n/, 'the signed message')
})

t.test('a cosignature over another text, or altered, or by another key, is refused', async (t) => {
  const key = parseWitnessKey(WITNESS_VKEY)
  t.equal(checkCosignature(TEXT.replace('\n1\n', '\n2\n'), signatureOf(COSIGNATURE), key).result, 'bad signature', 'another size')
  const signature = signatureOf(COSIGNATURE)
  const changedTime = { ...signature, signature: Buffer.from(signature.signature) }
  changedTime.signature[7] = (changedTime.signature[7] as number) ^ 1
  t.equal(checkCosignature(TEXT, changedTime, key).result, 'bad signature', 'a changed timestamp')
  t.equal(checkCosignature(TEXT, { ...signature, name: 'witness.example/w2' }, key).result, 'unknown key', 'another name')
  t.equal(checkCosignature(TEXT, { ...signature, keyId: Buffer.from('00000000', 'hex') }, key).result, 'unknown key', 'another key id')
  t.equal(checkCosignature(TEXT, { ...signature, signature: signature.signature.subarray(8) }, key).result, 'bad signature', 'no timestamp')
  t.equal(findCosignature(TEXT, [signatureOf(COSIGNATURE)], key)?.timestamp, 1796644178)
  t.equal(findCosignature(TEXT, [{ ...signature, name: 'other' }], key), undefined)
})

t.test('a witness key must be a cosignature/v1 key whose id matches its name', async (t) => {
  t.throws(() => parseWitnessKey('audit-log.example/acme+0da23148+AXaxQx+gZhUO5sknVoodm+kTHNP7fcYXm9NvG+Kemg3P'), NoteError, 'an Ed25519 note key (0x01)')
  t.throws(() => parseWitnessKey(WITNESS_VKEY.replace('658d5487', '658d5488')), /id is not the hash/, 'a wrong key id')
  t.throws(() => parseWitnessKey(WITNESS_VKEY.replace('witness.example/w1', 'witness.example/w2')), /id is not the hash/, 'another name')
  t.throws(() => parseWitnessKey('nonsense'), NoteError)
})
