import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { keyIdOf, type PublishedKey } from '../../../verifier/checkpoint.js'
import { ed25519VerifierKey, formatNote, noteSignature, type VerifierKey } from '../../../verifier/signed-note.js'
import { parseCheckpointText } from '../../../verifier/tlog-checkpoint.js'

/**
 * The keys checkpoints are signed with. The private key is read from a PEM file and never leaves the
 * process: it is not in the database, so whoever can write the database cannot sign. Retired keys (public
 * or private PEM files) stay published, so checkpoints signed before a rotation still verify.
 */
export class SigningKeys {
  readonly current: PublishedKey
  readonly published: PublishedKey[]

  constructor (private readonly privateKey: KeyObject, retired: KeyObject[]) {
    this.current = publish(createPublicKey(privateKey))
    const others = retired.map(publish).filter((key) => key.key_id !== this.current.key_id)
    this.published = [this.current, ...others.filter((key, i) => others.findIndex((other) => other.key_id === key.key_id) === i)]
  }

  /**
   * A secret for another purpose, derived from the private key (HMAC-SHA256 keyed with it, over the purpose):
   * kept, like the key, out of the database, and the same on every replica that shares the key file.
   */
  derive (purpose: string): Buffer {
    return createHmac('sha256', this.privateKey.export({ format: 'der', type: 'pkcs8' })).update(purpose).digest()
  }

  /**
   * A checkpoint's text signed as a C2SP note by the current key, under the checkpoint's origin as key name
   * (as witnesses require); the signature also alone, base64.
   */
  signNote (checkpointText: string): { note: string, signature: string } {
    const key = this.verifierKey(this.current, parseCheckpointText(checkpointText).origin)
    const signature = sign(null, Buffer.from(checkpointText), this.privateKey)
    return { note: formatNote({ text: checkpointText, signatures: [noteSignature(key, signature)] }), signature: signature.toString('base64') }
  }

  /** A published key as the C2SP verifier key of the log `origin`: the key name is the origin. */
  verifierKey (key: PublishedKey, origin: string): VerifierKey {
    return ed25519VerifierKey(origin, Buffer.from(key.public_key, 'base64'))
  }

  /** Ed25519 over `message`, base64. */
  sign (message: Buffer): string {
    return sign(null, message, this.privateKey).toString('base64')
  }
}

export interface SigningKeyFiles {
  /** The current key, PKCS#8 PEM; generated (mode 0600) when the file does not exist. */
  keyFile: string
  /** Earlier keys, public or private PEM. */
  retiredFiles: string[]
}

export function loadSigningKeys ({ keyFile, retiredFiles }: SigningKeyFiles): { keys: SigningKeys, created: boolean } {
  const created = !existsSync(keyFile) && createKeyFile(keyFile)
  const privateKey = createPrivateKey(readFileSync(keyFile))
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${keyFile} is not an Ed25519 private key`)
  const retired = retiredFiles.map((file) => createPublicKey(readFileSync(file)))
  for (const [i, key] of retired.entries()) {
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${retiredFiles[i] as string} is not an Ed25519 key`)
  }
  return { keys: new SigningKeys(privateKey, retired), created }
}

/**
 * Writes a new key where none is: to a temporary file first, then linked into place, so that processes
 * starting at once (replicas, test files) all end up reading the one key that won.
 */
function createKeyFile (path: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const { privateKey } = generateKeyPairSync('ed25519')
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 })
  try {
    linkSync(temporary, path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    unlinkSync(temporary)
  }
}

function publish (key: KeyObject): PublishedKey {
  const raw = rawPublicKey(key)
  return { key_id: keyIdOf(raw), algorithm: 'Ed25519', public_key: raw.toString('base64') }
}

/** The 32 bytes of an Ed25519 public key: the tail of its SubjectPublicKeyInfo DER. */
function rawPublicKey (key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32)
}
