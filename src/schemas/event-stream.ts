import { Type, type Static } from '@sinclair/typebox'
import { detailsPatterns, filterProperties } from './event-query.js'
import { MAX_INTEGER } from './common.js'

/** The filters of GET /events, and afterSeq: where the stream starts when the client sends no Last-Event-ID. */
export const EventStreamQuerySchema = Type.Object(
  {
    ...filterProperties,
    afterSeq: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_INTEGER,
        description:
          'Start after this seq (0: from the start of the log). Without it, and without Last-Event-ID, the stream starts after every seq claimed when it opened: only events written from then on'
      })
    )
  },
  { additionalProperties: false, maxProperties: 40, patternProperties: detailsPatterns }
)
export type EventStreamQuery = Static<typeof EventStreamQuerySchema> & Record<string, unknown>

export const EventStreamHeadersSchema = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({
      pattern: '^(0|[1-9][0-9]{0,14})$',
      maxLength: 15,
      description:
        'The `id` (seq) of the last message received: a reconnecting client continues after it, nothing skipped and nothing twice. Wins over afterSeq'
    })
  )
})

export const STREAM_DESCRIPTION =
  'Server-Sent Events (`text/event-stream`). Each message is one event: `id: <seq>` and `data: <the Event as JSON>`, ' +
  'in seq order, exactly as GET /events returns it. The stream first replays what is stored after the position (Last-Event-ID, else afterSeq), ' +
  'then follows new events as they are committed on any replica, never past a seq still being written. Comments (`: heartbeat`) keep idle ' +
  'connections open. When the client reads slower than events arrive and its buffer passes STREAM_BUFFER_BYTES, or the service stops, the ' +
  'stream ends with `event: end` and `data: {"resume_after_seq": N, "reason": "buffer_full" | "shutting_down" | "read_failed" | "token_expired" | "revoked"}`: reconnect with ' +
  '`Last-Event-ID: N` (EventSource does this by itself) and nothing is lost. `revoked`: the user was disabled, deleted, lost the reader role or ' +
  'changed password; the stream ends within AUTH_CACHE_MS plus a quarter of it (at least 250 ms), and delivers nothing written more than AUTH_CACHE_MS after it. Streams are limited per tenant and per instance (503 STREAM_CAPACITY).'
