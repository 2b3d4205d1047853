import type { FollowedEvent } from './settled-tail.js'

/**
 * The Server-Sent Events wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html).
 * JSON has no raw newline, so an event is always one `data:` line.
 */
export function eventMessage (event: FollowedEvent): string {
  return `id: ${event.seq}\ndata: ${event.json}\n\n`
}

/** A comment line: clients ignore it, proxies see traffic on an idle stream. */
export const HEARTBEAT = ': heartbeat\n\n'

/**
 * Why a stream ended on the service's side; the client resumes after `last_seq` and loses nothing (after
 * `revoked`, the token's user was disabled, deleted, lost the role or changed password: resuming needs a new login).
 */
export type ResumeReason = 'buffer_full' | 'shutting_down' | 'read_failed' | 'token_expired' | 'revoked'

/** The last message of a stream the service ends: an `end` event telling the client where to resume. */
export function resumeMessage (lastSeq: number, reason: ResumeReason): string {
  return `event: end\ndata: ${JSON.stringify({ resume_after_seq: lastSeq, reason })}\n\n`
}

/** Tells EventSource clients how long to wait before reconnecting. */
export const RETRY_MS = 'retry: 1000\n\n'
