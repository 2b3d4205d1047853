import { createHash, verify } from 'node:crypto'
import { publicKeyFromRaw } from './ed25519.js'

/**
 * C2SP signed-note (https://c2sp.org/signed-note): a text ending in a newline, a blank line, then one
 * signature line per key, `— <key name> base64(4-byte key id || signature)`. The same bytes as Go's
 * golang.org/x/mod/sumdb/note, so that witnesses and tools nobody here wrote read our checkpoints.
 *
 * Generic on purpose: the log's own Ed25519 signature (type 0x01) is checked here; other types (a
 * witness's timestamped cosignature, 0x04) are parsed and kept, and checked by whoever knows their format.
 */

/** Signature type byte of a plain Ed25519 note signature. */
export const ED25519_TYPE = 0x01

/** Go's note package refuses more; the spec asks to accept at least 16. */
const MAX_SIGNATURES = 100
const EM_DASH = '\u2014 '

export class NoteError extends Error {
  override name = 'NoteError'
}

export interface NoteSignature {
  name: string
  /** The 4-byte key id, big-endian. */
  keyId: Buffer
  /** The signature bytes after the key id. */
  signature: Buffer
}

export interface Note {
  /** Ends in "\n": this is what the signatures cover. */
  text: string
  signatures: NoteSignature[]
}

export interface VerifierKey {
  name: string
  keyId: Buffer
  /** The signature type byte (0x01 Ed25519, 0x04 timestamped cosignature, ...). */
  type: number
  /** The key material after the type byte (32 bytes for Ed25519). */
  publicKey: Buffer
}

/** A key name: non-empty, no Unicode space, no "+" (it would break the vkey's three parts). */
export function isKeyName (name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !hasControl(name)
}

/** SHA-256(name || "\n" || type || public key)[:4]: the key id the spec recommends. */
export function keyIdOf (name: string, type: number, publicKey: Buffer): Buffer {
  return createHash('sha256').update(name).update('\n').update(Buffer.from([type])).update(publicKey).digest().subarray(0, 4)
}

/** `<name>+<hex key id>+<base64(type || public key)>`: what a verifier is configured with. */
export function formatVerifierKey (key: VerifierKey): string {
  return `${key.name}+${key.keyId.toString('hex')}+${Buffer.concat([Buffer.from([key.type]), key.publicKey]).toString('base64')}`
}

/** The Ed25519 verifier key of `name` for a raw 32-byte public key. */
export function ed25519VerifierKey (name: string, publicKey: Buffer): VerifierKey {
  if (!isKeyName(name)) throw new NoteError(`"${name}" is not a valid key name`)
  if (publicKey.length !== 32) throw new NoteError('an Ed25519 public key has 32 bytes')
  return { name, keyId: keyIdOf(name, ED25519_TYPE, publicKey), type: ED25519_TYPE, publicKey }
}

/** Parses a vkey; its key id must be the one its name, type and key give (as Go's note.NewVerifier checks for Ed25519). */
export function parseVerifierKey (vkey: string): VerifierKey {
  // the base64 part may itself hold a "+": only the first two separate
  const [name, hex, ...rest] = vkey.split('+')
  const material = rest.length === 0 ? undefined : rest.join('+')
  if (name === undefined || hex === undefined || material === undefined || !isKeyName(name) ||
    !/^[0-9a-f]{8}$/.test(hex) || !isBase64(material)) {
    throw new NoteError('a verifier key is <name>+<8 hex digits>+<base64>')
  }
  const bytes = Buffer.from(material, 'base64')
  if (bytes.length < 2) throw new NoteError('a verifier key carries a type byte and a key')
  const key = { name, keyId: Buffer.from(hex, 'hex'), type: bytes[0] as number, publicKey: bytes.subarray(1) }
  if (key.type === ED25519_TYPE && key.publicKey.length !== 32) throw new NoteError('an Ed25519 verifier key has 32 bytes of key')
  if (key.type === ED25519_TYPE && !keyIdOf(name, key.type, key.publicKey).equals(key.keyId)) {
    throw new NoteError("the verifier key's id is not the hash of its name and key")
  }
  return key
}

/** The signature line's content for an Ed25519 signature by `key`. */
export function noteSignature (key: VerifierKey, signature: Buffer): NoteSignature {
  return { name: key.name, keyId: key.keyId, signature }
}

export function formatNote (note: Note): string {
  if (!note.text.endsWith('\n')) throw new NoteError('a note text ends in a newline')
  if (note.signatures.length === 0) throw new NoteError('a signed note has at least one signature')
  return note.text + '\n' + note.signatures.map(formatSignatureLine).join('')
}

export function formatSignatureLine ({ name, keyId, signature }: NoteSignature): string {
  return `${EM_DASH}${name} ${Buffer.concat([keyId, signature]).toString('base64')}\n`
}

/** Splits a signed note into its text and signature lines, refusing anything the spec does not allow. */
export function parseNote (note: string): Note {
  if (hasControl(note.replaceAll('\n', ''))) throw new NoteError('a note has no control characters but newlines')
  // the text is separated from the signatures by the last blank line
  const split = note.lastIndexOf('\n\n')
  if (split < 0) throw new NoteError('a signed note has a blank line before its signatures')
  const text = note.slice(0, split + 1)
  const block = note.slice(split + 2)
  if (!block.endsWith('\n')) throw new NoteError('a signed note ends in a newline')
  const lines = block.slice(0, -1).split('\n')
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`a note has at most ${MAX_SIGNATURES} signatures`)
  const signatures = lines.map((line) => {
    const match = /^\u2014 (\S+) (\S+)$/u.exec(line)
    const name = match?.[1]
    const b64 = match?.[2]
    if (name === undefined || b64 === undefined || !isKeyName(name) || !isBase64(b64)) throw new NoteError(`malformed signature line: ${line}`)
    const bytes = Buffer.from(b64, 'base64')
    if (bytes.length < 5) throw new NoteError(`signature too short: ${line}`)
    return { name, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) }
  })
  return { text, signatures }
}

export type NoteCheck = 'ok' | 'unknown key' | 'bad signature'

/**
 * Whether the note carries a valid Ed25519 signature by `key`. A line of another key sharing only its
 * name or only its id is no signature of this key ("unknown key"), as the spec says; a line of this key
 * that does not verify is a "bad signature".
 */
export function checkEd25519 (note: Note, key: VerifierKey): NoteCheck {
  if (key.type !== ED25519_TYPE) return 'unknown key'
  const line = note.signatures.find((sig) => sig.name === key.name && sig.keyId.equals(key.keyId))
  if (line === undefined) return 'unknown key'
  if (line.signature.length !== 64) return 'bad signature'
  return verify(null, Buffer.from(note.text), publicKeyFromRaw(key.publicKey), line.signature) ? 'ok' : 'bad signature'
}

function isBase64 (text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text)
}

function hasControl (text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f]/.test(text)
}
