import { createHash, verify } from 'node:crypto'
import { publicKeyFromRaw } from './ed25519.js'
import { checkEd25519, ed25519VerifierKey, NoteError, parseNote } from './signed-note.js'
import { logOrigin, parseCheckpointText } from './tlog-checkpoint.js'

export { publicKeyFromRaw }

/** A signed statement: the tenant's tree of `tree_size` leaves has this root. */
export interface Checkpoint {
  tenant: string
  tree_size: number
  root_hash: string
  issued_at: string
  key_id: string
  signature: string
  /**
   * The C2SP signed note (tlog-checkpoint) that `signature` is over: checkpoints signed since #27. Without it, a
   * checkpoint of the first format, whose signature covers checkpointMessage().
   */
  note?: string
}

/** A public key the service signs with, as GET /integrity/keys lists it. */
export interface PublishedKey {
  key_id: string
  algorithm: 'Ed25519'
  /** base64 of the 32 raw bytes. */
  public_key: string
}

/**
 * The bytes an Ed25519 signature covers: the UTF-8 of five lines, each ending in "\n":
 * `audit-log checkpoint v1`, the tenant, the tree size in decimal, the root hash in lowercase hex, and
 * issued_at exactly as given (RFC 3339). The key_id is not signed: it only says which key to try.
 */
export function checkpointMessage (checkpoint: Pick<Checkpoint, 'tenant' | 'tree_size' | 'root_hash' | 'issued_at'>): Buffer {
  return Buffer.from(
    `audit-log checkpoint v1\n${checkpoint.tenant}\n${checkpoint.tree_size}\n${checkpoint.root_hash}\n${checkpoint.issued_at}\n`
  )
}

/** First 16 hex digits of SHA-256 over the raw public key. */
export function keyIdOf (rawPublicKey: Buffer): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16)
}

export type SignatureCheck = 'ok' | 'unknown key' | 'bad signature'

export function checkSignature (checkpoint: Checkpoint, keys: PublishedKey[]): SignatureCheck {
  if (checkpoint.note === undefined) return checkSigned(checkpointMessage(checkpoint), checkpoint, keys)
  return checkNote(checkpoint as Checkpoint & { note: string }, keys)
}

/**
 * A checkpoint carried as a C2SP note: its text must say what the JSON says (this tenant's origin, the size,
 * the root), and the note must bear a signature of the key `key_id` names, under the origin as key name, that is
 * the checkpoint's `signature`. The service's origin prefix (AUDIT_LOG_ORIGIN) is taken from the note: what
 * binds it is the signature.
 */
function checkNote (checkpoint: Checkpoint & { note: string }, keys: PublishedKey[]): SignatureCheck {
  const key = keys.find((candidate) => candidate.key_id === checkpoint.key_id)
  if (key === undefined) return 'unknown key'
  const raw = Buffer.from(key.public_key, 'base64')
  if (raw.length !== 32 || keyIdOf(raw) !== key.key_id) return 'unknown key'
  try {
    const note = parseNote(checkpoint.note)
    const text = parseCheckpointText(note.text)
    const suffix = logOrigin('', checkpoint.tenant)
    if (!text.origin.endsWith(suffix) || text.origin.length === suffix.length || text.size !== checkpoint.tree_size ||
      text.root.toString('hex') !== checkpoint.root_hash) {
      return 'bad signature'
    }
    const vkey = ed25519VerifierKey(text.origin, raw)
    const line = note.signatures.find((sig) => sig.name === vkey.name && sig.keyId.equals(vkey.keyId))
    if (line === undefined) return 'unknown key'
    if (line.signature.toString('base64') !== checkpoint.signature) return 'bad signature'
    return checkEd25519(note, vkey) === 'ok' ? 'ok' : 'bad signature'
  } catch (err) {
    if (err instanceof NoteError) return 'bad signature'
    throw err
  }
}

/** Whether `signature` (base64) over `message` is by the published key `key_id` names. */
export function checkSigned (
  message: Buffer,
  { key_id: keyId, signature }: { key_id: string; signature: string },
  keys: PublishedKey[]
): SignatureCheck {
  const key = keys.find((candidate) => candidate.key_id === keyId)
  if (key === undefined) return 'unknown key'
  const raw = Buffer.from(key.public_key, 'base64')
  // a published key whose bytes are not the key_id's is no key of the service
  if (raw.length !== 32 || keyIdOf(raw) !== key.key_id) return 'unknown key'
  return verify(null, message, publicKeyFromRaw(raw), Buffer.from(signature, 'base64')) ? 'ok' : 'bad signature'
}
