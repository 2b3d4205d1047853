/**
 * A checkpoint carried as a C2SP signed note (tlog-checkpoint, #27), checked in the browser as
 * src/verifier/checkpoint.ts checks it: the note's three lines must be this tenant's origin, the tree size and
 * the root (base64), and its signature line of the key named by the origin must be the checkpoint's signature
 * and verify over the note's text.
 */

export interface NoteCheckpoint { tenant: string, tree_size: number, root_hash: string, signature: string, note: string }

function base64 (bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
}

function hexToBase64 (hex: string): string {
  return base64(Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16)))
}

/** SHA-256(name || "\n" || 0x01 || key)[:4], the note key id of an Ed25519 key. */
async function keyId (name: string, publicKey: Uint8Array): Promise<Uint8Array> {
  const head = new TextEncoder().encode(name + '\n')
  const joined = new Uint8Array(head.length + 1 + publicKey.length)
  joined.set(head)
  joined[head.length] = 1
  joined.set(publicKey, head.length + 1)
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined)).subarray(0, 4)
}

/** Whether the note is a signed statement of this checkpoint by the raw Ed25519 `publicKey`. */
export async function noteVerifies (checkpoint: NoteCheckpoint, publicKey: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const split = checkpoint.note.lastIndexOf('\n\n')
  if (split < 0) return false
  const text = checkpoint.note.slice(0, split + 1)
  const [origin, size, root] = text.split('\n')
  if (origin === undefined || !origin.endsWith('/' + encodeURIComponent(checkpoint.tenant)) ||
    size !== String(checkpoint.tree_size) || root !== hexToBase64(checkpoint.root_hash)) {
    return false
  }
  const id = await keyId(origin, publicKey)
  const line = checkpoint.note.slice(split + 2).split('\n').find((candidate) => candidate.startsWith(`\u2014 ${origin} `))
  if (line === undefined) return false
  const bytes = Uint8Array.from(atob(line.slice(origin.length + 3)), (char) => char.charCodeAt(0))
  if (bytes.length !== 68 || !id.every((byte, i) => bytes[i] === byte) || base64(bytes.subarray(4)) !== checkpoint.signature) return false
  const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify'])
  return await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes.subarray(4), new TextEncoder().encode(text))
}
