import type { Witness } from './witness-list.js'

/** What one add-checkpoint request (C2SP tlog-witness) came to. */
export type Submission =
  /** 200: the witness's signature lines (to be checked against its key by the caller). */
  | { kind: 'cosigned', lines: string }
  /** 409: the witness last cosigned another size than the `old` we sent; resend from this one. */
  | { kind: 'conflict', size: number }
  /** 422: the proof does not lead from what the witness cosigned to this checkpoint: the log is not append-only. */
  | { kind: 'inconsistent', message: string }
  /** Anything else: refused (403/404: the witness does not know the log or its key), or no answer. Retried later. */
  | { kind: 'failed', message: string }

/** A witness answer is a few signature lines: anything past this is not read. */
const ANSWER_LIMIT = 16 * 1024

/**
 * POSTs `old <size>`, the consistency proof (base64, one per line), a blank line and the signed note. The old size
 * must be the size the witness last cosigned (0 for none), the proof lead from it to the note's size.
 */
export async function addCheckpoint (
  witness: Witness,
  request: { oldSize: number, proof: Buffer[], note: string },
  timeoutMs: number,
  /** Aborted when the service shuts down: a witness that hangs does not hold the shutdown. */
  stop: AbortSignal
): Promise<Submission> {
  const body = `old ${request.oldSize}\n${request.proof.map((hash) => hash.toString('base64') + '\n').join('')}\n${request.note}`
  let response: Response
  try {
    response = await fetch(`${witness.url}/add-checkpoint`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'audit-log-service-witnessing' },
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop])
    })
  } catch (err) {
    const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `connection failed: ${causeOf(err)}`
    return { kind: 'failed', message: reason }
  }
  const text = await readLimited(response)
  switch (response.status) {
    case 200:
      return { kind: 'cosigned', lines: text }
    case 409: {
      const size = /^(0|[1-9][0-9]{0,15})\n?$/.exec(text)?.[1]
      if (size === undefined || !Number.isSafeInteger(Number(size))) return { kind: 'failed', message: 'HTTP 409 without a tree size' }
      return { kind: 'conflict', size: Number(size) }
    }
    case 422:
      return { kind: 'inconsistent', message: text.trim().slice(0, 200) }
    default:
      return { kind: 'failed', message: `HTTP ${response.status}: ${text.trim().slice(0, 200)}` }
  }
}

async function readLimited (response: Response): Promise<string> {
  if (response.body === null) return ''
  const chunks: Buffer[] = []
  let read = 0
  for await (const chunk of response.body) {
    chunks.push(Buffer.from(chunk as Uint8Array))
    read += (chunk as Uint8Array).length
    if (read > ANSWER_LIMIT) break
  }
  return Buffer.concat(chunks).subarray(0, ANSWER_LIMIT).toString('utf8')
}

function causeOf (err: unknown): string {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? (err as Error).message
}
