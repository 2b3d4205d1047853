import { NoteError } from './signed-note.js'

/**
 * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the text of a checkpoint note is three lines,
 * the log's origin, the tree size in decimal, and the RFC 6962 root hash in base64. We write no extension
 * lines (the spec does not recommend them, and witnesses cosign only the three lines): the issued_at the
 * JSON routes carry beside the note is not signed.
 */
export interface CheckpointText {
  origin: string
  size: number
  root: Buffer
}

export function formatCheckpointText ({ origin, size, root }: CheckpointText): string {
  return `${origin}\n${size}\n${root.toString('base64')}\n`
}

/** Reads the three lines of a checkpoint's text; extension lines, if any, are allowed and ignored. */
export function parseCheckpointText (text: string): CheckpointText {
  const lines = text.split('\n')
  const [origin, size, root] = lines
  if (lines.length < 4 || lines[lines.length - 1] !== '' || origin === undefined || origin === '' ||
    size === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(size) || root === undefined) {
    throw new NoteError('a checkpoint is an origin, a decimal tree size and a base64 root hash, one per line')
  }
  const hash = Buffer.from(root, 'base64')
  if (hash.length !== 32 || hash.toString('base64') !== root) throw new NoteError('a checkpoint root is 32 bytes in base64')
  const tree = Number(size)
  if (!Number.isSafeInteger(tree)) throw new NoteError('the tree size is too large')
  return { origin, size: tree, root: hash }
}

/**
 * A tenant's log origin: the service's AUDIT_LOG_ORIGIN, "/", and the tenant percent-encoded (so that a
 * tenant with a space or a "+" still makes a valid key name). The same string names the signing key.
 */
export function logOrigin (serviceOrigin: string, tenant: string): string {
  return `${serviceOrigin}/${encodeURIComponent(tenant)}`
}
