import { ApiError, getJson, type ApiEvent } from './api.js'
import { leafHashOf } from './leaf.js'
import { noteVerifies } from './checkpoint-note.js'

/**
 * Checks, in the browser, that an event is in its tenant's signed Merkle tree (issue #13's API):
 *   1. the proof's leaf_hash is the event's `hash`;
 *   2. the RFC 9162 inclusion proof leads from that leaf to the checkpoint's root_hash;
 *   3. the checkpoint's Ed25519 signature verifies with a key of GET /integrity/keys (Web Crypto).
 * Any failed step is a failed verification; an unreachable API is an error, not a failure.
 */

export interface InclusionProof { seq: number, leaf_hash: string, tree_size: number, audit_path: string[] }
export interface Checkpoint {
  tenant: string
  tree_size: number
  root_hash: string
  issued_at: string
  key_id: string
  signature: string
  /** The C2SP signed note the signature is over (checkpoints since #27); absent: the first format. */
  note?: string
  /** With a note: whether the service's WITNESS_QUORUM of witnesses cosigned it, and who did. */
  witnessed?: boolean
  cosignatures?: Array<{ witness: string, timestamp: string }>
}
export interface SigningKey { key_id: string, algorithm: string, public_key: string }

export interface Step { label: string, ok: boolean, detail?: string }
export interface Verification { verified: boolean, steps: Step[] }

export function hexToBytes (hex: string): Uint8Array<ArrayBuffer> {
  if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new Error(`not hex: ${hex.slice(0, 16)}`)
  const bytes = new Uint8Array(hex.length / 2)
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return bytes
}

export function bytesToHex (bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

function base64ToBytes (text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}

async function sha256 (...parts: Uint8Array[]): Promise<Uint8Array> {
  const joined = new Uint8Array(parts.reduce((length, part) => length + part.length, 0))
  let offset = 0
  for (const part of parts) { joined.set(part, offset); offset += part.length }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined))
}

const NODE = Uint8Array.of(1)

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to from leaf `index` of a tree of `size` leaves; null if the proof is malformed. */
export async function rootFromInclusionProof (
  index: number,
  size: number,
  leafHash: Uint8Array,
  path: Uint8Array[]
): Promise<Uint8Array | null> {
  if (index >= size) return null
  let fn = index
  let sn = size - 1
  let r = leafHash
  for (const p of path) {
    if (sn === 0) return null
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(NODE, p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    } else {
      r = await sha256(NODE, r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 ? r : null
}

/** The bytes a checkpoint's signature covers (README of #13). */
export function checkpointMessage (checkpoint: Checkpoint): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(
    `audit-log checkpoint v1\n${checkpoint.tenant}\n${checkpoint.tree_size}\n${checkpoint.root_hash}\n${checkpoint.issued_at}\n`
  )
}

export async function signatureVerifies (checkpoint: Checkpoint, key: SigningKey): Promise<boolean> {
  if (checkpoint.note !== undefined) return await noteVerifies({ ...checkpoint, note: checkpoint.note }, base64ToBytes(key.public_key))
  const publicKey = await crypto.subtle.importKey('raw', base64ToBytes(key.public_key), { name: 'Ed25519' }, false, ['verify'])
  return await crypto.subtle.verify({ name: 'Ed25519' }, publicKey, base64ToBytes(checkpoint.signature), checkpointMessage(checkpoint))
}

/**
 * Whether the leaf the tree holds is this event's: recomputed from the event's own fields (leaf.ts), so a
 * changed field fails even where the stored `hash` was left as it was.
 */
export async function leafMatchesEvent (event: ApiEvent, proof: InclusionProof): Promise<Step> {
  let computed: string
  try {
    computed = await leafHashOf(event as unknown as Record<string, unknown>)
  } catch (err) {
    return { label: 'The event\'s fields make the tree\'s leaf', ok: false, detail: String(err) }
  }
  const ok = computed === proof.leaf_hash && event.hash === proof.leaf_hash
  return {
    label: "The event's fields make the tree's leaf",
    ok,
    detail: ok ? proof.leaf_hash : `recomputed ${computed}, stored hash ${String(event.hash)}, leaf in the tree ${proof.leaf_hash}`
  }
}

/** The event type of the log's erasure entries (src/verifier/erasure.ts), which name every path an erasure nulled. */
export const ERASURE_APPLIED = 'audit.admin.erasure_applied'

/** The paths of `seq` an erasure entry names, if it is later than the event (docs/erasure.md, "An erasure is bound to the log"). */
export function pathsNamedBy (entry: ApiEvent, seq: number): string[] {
  if (entry.event_type !== ERASURE_APPLIED || entry.seq === undefined || entry.seq <= seq) return []
  const items = (entry.event_specificdetails as { erased?: unknown } | null | undefined)?.erased
  if (!Array.isArray(items)) return []
  return (items as Array<{ seq?: unknown, paths?: unknown }>)
    .filter((item) => item?.seq === seq && Array.isArray(item.paths))
    .flatMap((item) => (item.paths as unknown[]).filter((path): path is string => typeof path === 'string'))
}

/**
 * An erased field keeps its commitment, so the leaf alone cannot tell an erasure from a field nulled through
 * the database: only the erasure entries of the log can. Each entry that names the event is itself proven in
 * the tree (the same steps as the event's), and every erased path must be named by one of them.
 */
export async function erasureRecorded (event: ApiEvent & { seq: number }): Promise<Step> {
  const label = 'Every erased field is named by an erasure entry of the log'
  const page = await getJson<{ items: ApiEvent[] }>(
    `/events?event_type=${encodeURIComponent(ERASURE_APPLIED)}&details.seqs=${event.seq}&limit=100`
  )
  const named = new Set<string>()
  const entries: number[] = []
  for (const entry of page.items) {
    const paths = pathsNamedBy(entry, event.seq)
    if (paths.length === 0) continue
    const proven = await verifyEvent(entry)
    if (!proven.verified) continue
    for (const path of paths) named.add(path)
    entries.push(entry.seq as number)
  }
  const missing = (event.erased ?? []).filter((path) => !named.has(path))
  return {
    label,
    ok: missing.length === 0,
    detail: missing.length === 0
      ? `named by the entries at seq ${entries.join(', ')}`
      : `erased without a request: no proven erasure entry names ${missing.join(', ')}`
  }
}

export async function verifyEvent (event: ApiEvent): Promise<Verification> {
  const steps: Step[] = []
  const done = (): Verification => ({ verified: steps.length > 0 && steps.every((step) => step.ok), steps })
  if (event.seq === undefined || event.hash === undefined) {
    steps.push({ label: 'The event has a seq and a hash', ok: false, detail: 'this service does not return them (no tamper evidence yet)' })
    return done()
  }
  if (globalThis.crypto?.subtle === undefined) {
    throw new Error(
      'this page is not a secure context, so the browser offers no Web Crypto to check with: open the viewer over https (or on localhost)'
    )
  }
  if ((event.erased?.length ?? 0) > 0) steps.push(await erasureRecorded({ ...event, seq: event.seq }))
  const id = encodeURIComponent(event.id)
  const proof = await getJson<InclusionProof>(`/events/${id}/proof`)
  const checkpoint = await getJson<Checkpoint>(`/integrity/checkpoint?tree_size=${proof.tree_size}`)
  const { keys } = await getJson<{ keys: SigningKey[] }>('/integrity/keys')

  steps.push(await leafMatchesEvent(event, proof))
  steps.push({
    label: "The proof is for this event's position",
    ok: proof.seq === event.seq,
    detail: `seq ${proof.seq} of a tree of ${proof.tree_size}`
  })
  const root = await rootFromInclusionProof(event.seq - 1, proof.tree_size, hexToBytes(proof.leaf_hash), proof.audit_path.map(hexToBytes))
  const rootHex = root === null ? null : bytesToHex(root)
  steps.push({
    label: "The inclusion proof leads to the checkpoint's root",
    ok: rootHex === checkpoint.root_hash,
    detail: `computed ${rootHex ?? '(malformed proof)'}, signed ${checkpoint.root_hash}`
  })
  const key = keys.find((candidate) => candidate.key_id === checkpoint.key_id)
  if (key === undefined || key.algorithm !== 'Ed25519') {
    steps.push({ label: 'The checkpoint\'s signing key is published', ok: false, detail: `no Ed25519 key ${checkpoint.key_id}` })
    return done()
  }
  let signed = false
  try {
    signed = await signatureVerifies(checkpoint, key)
  } catch (err) {
    steps.push({
      label: "The checkpoint's Ed25519 signature verifies",
      ok: false,
      detail: `this browser could not check it: ${String(err)}`
    })
    return done()
  }
  steps.push({
    label: "The checkpoint's Ed25519 signature verifies",
    ok: signed,
    detail: `key ${key.key_id}, issued ${checkpoint.issued_at}`
  })
  const cosigned = cosignedStep(checkpoint)
  if (cosigned !== undefined) steps.push(cosigned)
  return done()
}

/**
 * Who cosigned the checkpoint, as the service reports it (it checks each cosignature against the witness's key
 * before serving it): shown, not judged here, since the page holds no witness policy; `npm run verify --
 * --witness-policy` checks the cosignatures against the auditor's own witness keys. Nothing when no witness is set.
 */
export function cosignedStep (checkpoint: Checkpoint): Step | undefined {
  const cosignatures = checkpoint.cosignatures ?? []
  if (cosignatures.length === 0) return undefined
  const who = cosignatures.map(({ witness, timestamp }) => `${witness} at ${timestamp}`).join(', ')
  return {
    label: 'Witnesses cosigned the checkpoint',
    ok: true,
    detail: `${who}${checkpoint.witnessed === true ? '' : " (fewer than the service's quorum: not yet witnessed)"}`
  }
}

export { ApiError }
