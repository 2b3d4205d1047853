import { createPublicKey, type KeyObject } from 'node:crypto'

/** DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410): what Node needs around the 32 raw bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export function publicKeyFromRaw (raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}
