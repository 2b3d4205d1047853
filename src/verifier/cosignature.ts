import { verify } from 'node:crypto'
import { publicKeyFromRaw } from './checkpoint.js'
import { isKeyName, keyIdOf, NoteError, parseVerifierKey, type NoteSignature, type VerifierKey } from './signed-note.js'

/**
 * C2SP tlog-cosignature v1 (https://c2sp.org/tlog-cosignature), the Ed25519 kind litewitness makes: a note
 * signature line by the witness whose bytes are an 8-byte big-endian POSIX timestamp then an Ed25519 signature
 * over `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's note text. The key id is
 * SHA-256(name || "\n" || 0x04 || public key)[:4]; its verifier key `<name>+<id>+<base64(0x04 || key)>`.
 * (ML-DSA-44 cosignatures, 0x06, are not made by litewitness 0.6 and are not accepted here.)
 */
export const COSIGNATURE_V1_TYPE = 0x04

/** A witness's verifier key, with its key id checked against its name and key (as for Ed25519 note keys). */
export function parseWitnessKey (vkey: string): VerifierKey {
  const key = parseVerifierKey(vkey)
  if (key.type !== COSIGNATURE_V1_TYPE) {
    throw new NoteError(`a witness key has type 0x04 (Ed25519 cosignature/v1); this one has 0x${key.type.toString(16).padStart(2, '0')}`)
  }
  if (key.publicKey.length !== 32) throw new NoteError('a cosignature/v1 witness key has 32 bytes of key')
  if (!isKeyName(key.name) || !keyIdOf(key.name, key.type, key.publicKey).equals(key.keyId)) {
    throw new NoteError("the witness key's id is not the hash of its name and key")
  }
  return key
}

export type CosignatureCheck = { result: 'ok', timestamp: number } | { result: 'unknown key' | 'bad signature' }

/** The message a cosignature/v1 signs: two header lines, then the note text (which ends in "\n"). */
export function cosignedMessage (noteText: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${noteText}`)
}

/**
 * Whether `signature` is a valid cosignature/v1 by `key` over the note text. A line of another name or key id is
 * "unknown key" (ignored, as the spec says); one of this key that does not verify is a "bad signature".
 */
export function checkCosignature (noteText: string, signature: NoteSignature, key: VerifierKey): CosignatureCheck {
  if (key.type !== COSIGNATURE_V1_TYPE || signature.name !== key.name || !signature.keyId.equals(key.keyId)) return { result: 'unknown key' }
  if (signature.signature.length !== 8 + 64) return { result: 'bad signature' }
  const timestamp = signature.signature.readBigUInt64BE(0)
  // the spec caps it at 2^63 - 1; a JavaScript number is exact to 2^53, far beyond any real time
  if (timestamp === 0n || timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return { result: 'bad signature' }
  const ok = verify(null, cosignedMessage(noteText, Number(timestamp)), publicKeyFromRaw(key.publicKey), signature.signature.subarray(8))
  return ok ? { result: 'ok', timestamp: Number(timestamp) } : { result: 'bad signature' }
}

/** The first valid cosignature of `key` among a note's signatures, if any. */
export function findCosignature (
  noteText: string,
  signatures: NoteSignature[],
  key: VerifierKey
): { signature: NoteSignature, timestamp: number } | undefined {
  for (const signature of signatures) {
    const check = checkCosignature(noteText, signature, key)
    if (check.result === 'ok') return { signature, timestamp: check.timestamp }
  }
  return undefined
}
