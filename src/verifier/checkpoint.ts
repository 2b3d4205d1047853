import { createHash, createPublicKey, verify } from 'node:crypto'

/** A signed statement: the tenant's tree of `tree_size` leaves has this root. */
export interface Checkpoint {
  tenant: string
  tree_size: number
  root_hash: string
  issued_at: string
  key_id: string
  signature: string
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

/** DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410): what Node needs around the 32 raw bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export function publicKeyFromRaw (raw: Buffer) {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

export type SignatureCheck = 'ok' | 'unknown key' | 'bad signature'

export function checkSignature (checkpoint: Checkpoint, keys: PublishedKey[]): SignatureCheck {
  return checkSigned(checkpointMessage(checkpoint), checkpoint, keys)
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
