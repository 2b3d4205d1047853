import t from 'tap'
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto'
import {
  checkEd25519, ed25519VerifierKey, formatNote, formatVerifierKey, noteSignature, parseNote, parseVerifierKey, NoteError
} from '../../src/verifier/signed-note.js'
import { formatCheckpointText, logOrigin, parseCheckpointText } from '../../src/verifier/tlog-checkpoint.js'

/**
 * The bytes of C2SP signed notes and checkpoints, checked against the examples of golang.org/x/mod/sumdb/note
 * (note.go's package documentation) and of the C2SP specs: a note we sign must be the note Go's package signs.
 */
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'
const PETER_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
const PETER_NOTE = PETER_TEXT + '\n' +
  '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n'

/** An Ed25519 private key from the 32-byte seed Go's skey carries after its type byte. */
function keyFromSeed (seed: Buffer) {
  // PKCS#8 DER of an Ed25519 private key: a fixed prefix, then the seed (RFC 8410)
  return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' })
}

t.test("Go's example note: the same vkey, key id and signature bytes", async (t) => {
  const seed = Buffer.from(PETER_SKEY.split('+').slice(4).join('+'), 'base64').subarray(1)
  const privateKey = keyFromSeed(seed)
  const publicKey = Buffer.from(PETER_VKEY.split('+')[2] as string, 'base64').subarray(1)
  const key = ed25519VerifierKey('PeterNeumann', publicKey)
  t.equal(formatVerifierKey(key), PETER_VKEY, 'the verifier key string')
  const signed = formatNote({ text: PETER_TEXT, signatures: [noteSignature(key, sign(null, Buffer.from(PETER_TEXT), privateKey))] })
  t.equal(signed, PETER_NOTE, 'the signed note, byte for byte (Ed25519 is deterministic)')
  const parsed = parseNote(PETER_NOTE)
  t.equal(parsed.text, PETER_TEXT)
  t.equal(checkEd25519(parsed, parseVerifierKey(PETER_VKEY)), 'ok')
})

t.test("the C2SP signed-note spec's example verifies with its vkey", async (t) => {
  const vkey = parseVerifierKey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k')
  const note = parseNote('This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n')
  t.equal(checkEd25519(note, vkey), 'ok')
})

t.test('a changed text, another key or a key sharing only the name does not verify', async (t) => {
  const key = parseVerifierKey(PETER_VKEY)
  t.equal(checkEd25519(parseNote(PETER_NOTE.replace('cryptography', 'cryptographY')), key), 'bad signature')
  const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
  t.equal(checkEd25519(parseNote(PETER_NOTE), ed25519VerifierKey('PeterNeumann', other)), 'unknown key', 'same name, another id: not its line')
  t.equal(checkEd25519(parseNote(PETER_NOTE), ed25519VerifierKey('Peter', key.publicKey)), 'unknown key')
})

t.test('the text is split at the last blank line, and several signatures are kept', async (t) => {
  const text = 'a\n\nb\n'
  const note = parseNote(`${text}\n\u2014 x AAAAAAE=\n\u2014 y AAAAAAI=\n`)
  t.equal(note.text, text)
  t.same(note.signatures.map((sig) => sig.name), ['x', 'y'])
})

t.test('malformed notes and keys are refused', async (t) => {
  const refused = (note: string, why: string) => t.throws(() => parseNote(note), NoteError, why)
  refused('no blank line\n\u2014 x AAAAAAE=\n', 'no blank line')
  refused('text\n\n\u2014 x AAAAAAE=', 'no final newline')
  refused('text\n\n', 'no signature')
  refused('text\n\n- x AAAAAAE=\n', 'a hyphen is not the em dash')
  refused('text\n\n\u2014 x+y AAAAAAE=\n', 'a plus in the name')
  refused('text\n\n\u2014 x AAAA\n', 'a signature shorter than 5 bytes')
  refused('text\n\n\u2014 x AAAAAAE\n', 'not base64')
  refused('te\txt\n\n\u2014 x AAAAAAE=\n', 'a control character')
  t.throws(() => parseVerifierKey('PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'), NoteError, 'a wrong key id')
  t.throws(() => parseVerifierKey('PeterNeumann+c74f20a3'), NoteError, 'two parts')
  t.equal(parseVerifierKey(`n+${ed25519VerifierKey('n', Buffer.alloc(32, 0xfb)).keyId.toString('hex')}+Afv7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7`).publicKey.length, 32, 'a "+" in the base64 part')
  t.throws(() => ed25519VerifierKey('a b', Buffer.alloc(32)), NoteError, 'a space in the name')
})

t.test('checkpoint text: origin, size, base64 root', async (t) => {
  const root = Buffer.alloc(32, 7)
  const text = formatCheckpointText({ origin: 'example.com/behind-the-sofa', size: 20852163, root })
  t.equal(text, `example.com/behind-the-sofa\n20852163\n${root.toString('base64')}\n`)
  t.same(parseCheckpointText(text), { origin: 'example.com/behind-the-sofa', size: 20852163, root })
  t.same(parseCheckpointText(text + 'extension\n').size, 20852163, 'extension lines are allowed')
  t.throws(() => parseCheckpointText('o\n01\n' + root.toString('base64') + '\n'), NoteError, 'leading zero')
  t.throws(() => parseCheckpointText('o\n1\nAAAA\n'), NoteError, 'short root')
  t.throws(() => parseCheckpointText('o\n1\n'), NoteError, 'two lines')
  t.equal(logOrigin('audit.example.com', 'acme corp+1'), 'audit.example.com/acme%20corp%2B1', 'a tenant is percent-encoded into a valid key name')
})
