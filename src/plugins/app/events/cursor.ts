import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { BadRequestError } from '../../../errors.js'
import type { PagePosition } from './filter.js'
import { sortedKeys } from './record.js'

/**
 * Opaque page cursors: the (timestamp, id) of the last event served, bound to the query that produced
 * it, and signed. A client can neither forge a position nor reuse a cursor with other filters, order
 * or tenant: any of these is a 400, never a wrong page.
 */
export type CursorPosition = PagePosition

interface CursorBody { t?: number, i?: string, s?: number, q: string }

const SIGNATURE_BYTES = 16

export class CursorCodec {
  private readonly key: Buffer

  constructor (secret: string) {
    // a key of its own, derived from the token secret, so cursors and tokens can never stand in for each other
    this.key = createHmac('sha256', secret).update('audit-log page cursor v1').digest()
  }

  encode (position: CursorPosition, queryKey: string): string {
    const body: CursorBody =
      'seq' in position ? { s: position.seq, q: queryKey } : { t: position.timestamp.getTime(), i: position.id, q: queryKey }
    const payload = Buffer.from(JSON.stringify(body))
    return Buffer.concat([this.sign(payload), payload]).toString('base64url')
  }

  decode (cursor: string, queryKey: string): CursorPosition {
    const raw = Buffer.from(cursor, 'base64url')
    const signature = raw.subarray(0, SIGNATURE_BYTES)
    const payload = raw.subarray(SIGNATURE_BYTES)
    // base64url decoding skips characters outside its alphabet and spare trailing bits: only the exact text we issued is accepted
    if (raw.toString('base64url') !== cursor || signature.length !== SIGNATURE_BYTES || !timingSafeEqual(signature, this.sign(payload))) {
      throw new BadRequestError('cursor is not valid: pass next_cursor from a previous page unchanged')
    }
    const body = parseBody(payload)
    if (body.q !== queryKey) {
      throw new BadRequestError('cursor belongs to another query: keep the same filters and order while paging')
    }
    return body.s !== undefined ? { seq: body.s } : { timestamp: new Date(body.t as number), id: body.i as string }
  }

  private sign (payload: Buffer): Buffer {
    return createHmac('sha256', this.key).update(payload).digest().subarray(0, SIGNATURE_BYTES)
  }
}

/**
 * A signed body is one the service issued; it is still checked like any input, so that a number out of range
 * (`1e400` is Infinity once parsed) never reaches a query, even if a signing key leaked or an encoder erred.
 */
function parseBody (payload: Buffer): CursorBody {
  let body: CursorBody | undefined
  try {
    body = JSON.parse(payload.toString()) as CursorBody
  } catch {}
  const valid =
    body !== null && typeof body === 'object' && typeof body.q === 'string' &&
    (body.s !== undefined
      ? Number.isSafeInteger(body.s) && body.s >= 0
      : Number.isSafeInteger(body.t) && Math.abs(body.t as number) <= MAX_DATE_MS && typeof body.i === 'string' && OBJECT_ID.test(body.i))
  if (!valid) throw new BadRequestError('cursor is not valid: pass next_cursor from a previous page unchanged')
  return body as CursorBody
}

/** The largest time a Date holds (ECMA-262: 8.64e15 ms either side of 1970). */
const MAX_DATE_MS = 8.64e15
const OBJECT_ID = /^[0-9a-f]{24}$/

/** A short fingerprint of everything that defines the result set, so a cursor cannot cross queries. */
export function queryFingerprint (parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts, sortedKeys)).digest('base64url').slice(0, 16)
}
