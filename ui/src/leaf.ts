/**
 * The event's leaf hash recomputed in the browser from its own fields, as docs/integrity.md's "The leaf format"
 * defines it, with Web Crypto: a second, independent implementation of the verifier's leaf.ts. A changed
 * field then fails verification even when the stored `hash` was left alone.
 */

const CLEAR_FIELDS = [
  'id', 'seq', 'tenant', 'timestamp', 'submitted_by', 'event_type', 'entitytype', 'event_id', 'occurred_at', 'schema_version'
]
const COMMITTED_FIELDS = ['username', 'ip', 'location', 'description']
const DETAILS_FIELD = 'event_specificdetails'

type LeafEvent = Record<string, unknown> & {
  salt?: string
  salts?: Record<string, string>
  commitments?: Record<string, string>
  erased?: string[]
}

const encoder = new TextEncoder()

/** RFC 8785: keys sorted by UTF-16 code units, ECMAScript number and string forms (JSON.stringify's). */
export function canonical (value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  const entries = Object.entries(value).filter(([, inner]) => inner !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonical(inner)}`).join(',')}}`
}

function base64urlToBytes (text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}

function hex (bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, '0')).join('')
}

function concat (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const joined = new Uint8Array(parts.reduce((length, part) => length + part.length, 0))
  let offset = 0
  for (const part of parts) { joined.set(part, offset); offset += part.length }
  return joined
}

function committedValues (event: LeafEvent): Array<[string, unknown]> {
  const values: Array<[string, unknown]> = []
  for (const field of COMMITTED_FIELDS) if (event[field] !== undefined) values.push([field, event[field]])
  const walk = (value: unknown, path: string): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      for (const [key, inner] of Object.entries(value)) walk(inner, `${path}.${key}`)
    } else {
      values.push([path, value])
    }
  }
  if (event[DETAILS_FIELD] !== undefined) walk(event[DETAILS_FIELD], DETAILS_FIELD)
  return values
}

async function saltOf (event: LeafEvent, path: string): Promise<Uint8Array<ArrayBuffer>> {
  const explicit = event.salts?.[path]
  if (explicit !== undefined) return base64urlToBytes(explicit)
  if (event.salt === undefined) throw new Error(`no salt for ${path}`)
  const key = await crypto.subtle.importKey('raw', base64urlToBytes(event.salt), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(path))).slice(0, 16)
}

/** hex(SHA-256(0x00 ‖ JCS(leaf document))). */
export async function leafHashOf (event: LeafEvent): Promise<string> {
  const doc: Record<string, unknown> = { v: 1 }
  for (const field of CLEAR_FIELDS) if (event[field] !== undefined) doc[field] = event[field]
  const commitments: Record<string, string> = {}
  const erased = new Set(event.erased ?? [])
  for (const [path, value] of committedValues(event)) {
    if (erased.has(path)) {
      const kept = event.commitments?.[path]
      if (kept === undefined) throw new Error(`${path} is erased but its commitment is missing`)
      if (value !== null) throw new Error(`${path} is listed as erased but has a value`)
      commitments[path] = kept
    } else {
      commitments[path] = hex(await crypto.subtle.digest('SHA-256', concat(await saltOf(event, path), encoder.encode(canonical(value)))))
    }
  }
  for (const path of erased) {
    if (commitments[path] === undefined) throw new Error(`${path} is listed as erased but the event has no such field`)
  }
  doc.commitments = commitments
  return hex(await crypto.subtle.digest('SHA-256', concat(Uint8Array.of(0), encoder.encode(canonical(doc)))))
}
