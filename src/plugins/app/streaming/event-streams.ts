import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import { streamEnded, streamOpened } from '../audit/entries.js'
import { eventMessage, HEARTBEAT, resumeMessage, RETRY_MS, type ResumeReason } from './sse-format.js'
import { SlotCounter } from '../storage/slots.js'
import { StreamCapacityError } from '../../../errors.js'
import { SCAN_COSTS } from '../http/scan-admission.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventStreams: EventStreams
  }
}

export interface EventStreamsOptions {
  perTenant: number
  perInstance: number
  /** Bytes a stream may hold for a slow client before it is ended with a resume hint. */
  bufferBytes: number
  heartbeatMs: number
  /** How long a stream over its buffer limit waits for the client to read before it is cut off. */
  stallMs: number
  /** Events read from the database at once while catching up. */
  pageSize?: number
}

const DEFAULT_PAGE = 100
/** The most bytes of messages gathered into one write. */
const CHUNK_BYTES = 65536
/** The shortest interval between rechecks of an open stream's user: AUTH_CACHE_MS may be 0 (no cache, a read each). */
const MIN_RECHECK_MS = 250

/**
 * GET /events/stream: a replay of what is stored after the client's position, then every new event as it
 * settles, as Server-Sent Events whose `id` is the seq. Memory per stream is bounded: events are read from
 * the database only as the client takes them, and a client that leaves more than `bufferBytes` unread for
 * `stallMs` is sent an `end` event naming the last seq sent and disconnected; it reconnects from there
 * (Last-Event-ID) having lost nothing, and its position is held by the client, not by the service.
 */
export class EventStreams {
  /** Open streams per tenant and per instance: a stream holds a connection and a follower for as long as its client wants. */
  readonly slots: SlotCounter
  /** The most bytes any stream has held for its client: bounded by bufferBytes plus one event. */
  peakBufferedBytes = 0
  private readonly enders = new Set<() => void>()

  constructor (
    private readonly fastify: FastifyInstance,
    private readonly options: EventStreamsOptions
  ) {
    this.slots = new SlotCounter(options.perTenant, options.perInstance, () => new StreamCapacityError())
  }

  /** Answers the request with a stream of the tenant's events after `position` (after every seq claimed so far when undefined). */
  async open (request: FastifyRequest, reply: FastifyReply, filters: Record<string, unknown>, position: number | undefined): Promise<void> {
    const tenant = request.principal.tenant
    const release = this.slots.take(tenant)
    let start: number
    try {
      // the database answers before the 200 is sent: an outage is still a 503 with the error body
      // no position: live from now, after every seq already claimed (acknowledged events settle a moment later)
      start = position ?? (await this.fastify.sequencer.claimedThrough(tenant))
      // like every read, recorded before it answers; a stream whose record cannot be stored is refused
      if (request.method !== 'HEAD') await this.fastify.auditTrail.record(request.principal, request, [streamOpened(request, start)])
    } catch (err) {
      release()
      throw err
    }
    reply.hijack()
    const res = reply.raw
    const headers = {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-request-id': String(request.id)
    }
    // HEAD says what a GET would answer, and holds no stream open
    if (request.method === 'HEAD') {
      release()
      res.writeHead(200, headers).end()
      return
    }
    res.writeHead(200, headers)
    res.write(RETRY_MS)
    this.run(tenant, filters, start, res, request)
      .finally(release)
      .catch(() => {})
  }

  /** Ends every open stream with a resume hint; at shutdown, so that closing does not wait for clients. */
  endAll (): void {
    for (const end of [...this.enders]) end()
  }

  private async run (
    tenant: string,
    filters: Record<string, unknown>,
    start: number,
    res: ServerResponse,
    request: FastifyRequest
  ): Promise<void> {
    const { settledWatch } = this.fastify
    const limit = this.options.bufferBytes
    let position = start
    let lastSent = start
    let settled = position
    let sent = 0
    let endReason: ResumeReason | 'client_closed' = 'client_closed'
    const state = { closed: false }
    // a read waiting for its turn at the scan admission gives it up when the stream ends
    const stopped = new AbortController()
    let wake: (() => void) | undefined
    const finish = (reason?: ResumeReason): void => {
      if (state.closed) return
      state.closed = true
      stopped.abort(new Error('the stream ended'))
      if (reason !== undefined) endReason = reason
      if (reason !== undefined && !res.destroyed) res.end(resumeMessage(lastSent, reason))
      else res.end()
      wake?.()
    }
    const shutdown = (): void => finish('shutting_down')
    this.enders.add(shutdown)
    res.once('close', () => {
      state.closed = true
      stopped.abort(new Error('the client went away'))
      wake?.()
    })
    let stopFollowing = (): void => {}
    // a stream outlives no token: it ends when the token expires, and the client reconnects with a new one. An API key
    // that expires beyond a timer's reach (2^31 ms, 24.8 days; a longer delay fires at once) or never is left to the
    // rechecks below, which refuse a key past its expiry
    const untilExpiry = Math.max(0, request.principal.expiresAt.getTime() - Date.now())
    const expiry = untilExpiry < 2 ** 31 ? setTimeout(() => finish('token_expired'), untilExpiry).unref() : undefined
    const heartbeat = setInterval(() => {
      if (!state.closed) this.send(res, HEARTBEAT)
    }, this.options.heartbeatMs).unref()
    // nor any revocation (user disabled, deleted, role removed, password changed): the user's state is checked as
    // a request's is, through the same cache, every quarter of AUTH_CACHE_MS and after each page is read, before it
    // is sent. So no event written more than AUTH_CACHE_MS after a revocation is delivered, and an idle stream ends
    // within AUTH_CACHE_MS and one interval. A check of a cached user reads nothing: the database sees at most one
    // read per user per AUTH_CACHE_MS, however many streams. (authorization is registered after this plugin, and is
    // looked up when a stream runs.)
    const authorization = this.fastify.authorization
    const revoked = (): void => finish(Date.now() >= request.principal.expiresAt.getTime() ? 'token_expired' : 'revoked')
    let rechecking = false
    const recheck = setInterval(() => {
      if (state.closed || rechecking) return
      rechecking = true
      authorization
        .stillAuthorized(request)
        .then((authorized) => { if (!authorized) revoked() })
        // the user's state could not be read: the next check tries again, and no page is sent before one passes
        .catch((err: unknown) => request.log.debug({ err }, 'event stream could not recheck its user'))
        .finally(() => { rechecking = false })
    }, Math.max(authorization.cacheMs / 4, MIN_RECHECK_MS)).unref()
    // a replay's pages read from the database share the tenant's admission with its queries, each page a read:
    // it waits for its turn rather than failing, and holds no units while its client reads
    const admitRead = async (): Promise<() => void> =>
      await this.fastify.scanAdmission.acquire(tenant, SCAN_COSTS.followerPage, { patient: true, signal: stopped.signal })
    try {
      // where the mark stands, then every rise of it; a failed first read ends the stream as a failed page read does
      stopFollowing = await settledWatch.followFromNow(tenant, (through) => {
        if (through > settled) settled = through
        wake?.()
      })
      while (!state.closed) {
        while (position < settled && !state.closed) {
          const { events, reached } = await settledWatch.readAfter(
            tenant,
            filters,
            position,
            settled,
            this.options.pageSize ?? DEFAULT_PAGE,
            admitRead
          )
          if (!(await authorization.stillAuthorized(request))) return revoked()
          // the page's messages go out in as few writes as the limit allows, not one write per event
          let chunk = ''
          let chunkBytes = 0
          let chunked = 0
          let chunkLast = lastSent
          const flush = (): void => {
            if (chunked === 0) return
            this.send(res, chunk)
            lastSent = chunkLast
            sent += chunked
            chunk = ''
            chunkBytes = 0
            chunked = 0
          }
          for (const event of events) {
            if (state.closed) return
            const message = eventMessage(event)
            // bytes, as the limit and writableLength count them, not UTF-16 units
            const bytes = Buffer.byteLength(message)
            if (chunked > 0 && (res.writableLength + chunkBytes + bytes > limit || chunkBytes >= CHUNK_BYTES)) flush()
            chunk += message
            chunkBytes += bytes
            chunked++
            chunkLast = event.seq
            // past the limit nothing more is written until the client reads; one that does not read within
            // stallMs is cut off, so what is buffered stays bounded by the limit plus one event
            if (res.writableLength + chunkBytes > limit) {
              flush()
              if (!(await drained(res, this.options.stallMs))) return finish('buffer_full')
            }
          }
          if (state.closed) return
          flush()
          // eslint-disable-next-line require-atomic-updates -- position is this loop's alone: no callback writes it
          position = reached
        }
        await new Promise<void>((resolve) => {
          wake = resolve
          if (state.closed || settled > position) resolve()
        })
        wake = undefined
      }
    } catch (err) {
      // a stream that ended while its read waited for its turn failed nothing
      if (!state.closed) request.log.warn({ err }, 'event stream read failed; the client is told to resume')
      finish('read_failed')
    } finally {
      clearInterval(heartbeat)
      clearInterval(recheck)
      clearTimeout(expiry)
      stopFollowing()
      this.enders.delete(shutdown)
      if (!state.closed) finish()
      this.fastify.auditTrail.recordLater(request.principal, request, [streamEnded(request, sent, lastSent, endReason)])
    }
  }

  private send (res: ServerResponse, chunk: string): void {
    res.write(chunk)
    if (res.writableLength > this.peakBufferedBytes) this.peakBufferedBytes = res.writableLength
  }
}

/** Whether the response drained within `ms` (false if it closed or stayed full). */
async function drained (res: ServerResponse, ms: number): Promise<boolean> {
  if (!res.writableNeedDrain) return true
  return await new Promise<boolean>((resolve) => {
    const done = (value: boolean): void => {
      clearTimeout(timer)
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(value)
    }
    const onDrain = (): void => done(true)
    const onClose = (): void => done(false)
    const timer = setTimeout(() => done(false), ms)
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}

async function eventStreamsPlugin (fastify: FastifyInstance, options: EventStreamsOptions) {
  const streams = new EventStreams(fastify, options)
  fastify.decorate('eventStreams', streams)
  // open streams never end on their own: end them, or closing would wait for every client to leave
  fastify.addHook('preClose', function endStreams (done) {
    streams.endAll()
    done()
  })
}

export default fp(eventStreamsPlugin, {
  fastify: '5.x',
  name: 'event-streams',
  dependencies: ['event-store', 'sequencer', 'settled-watch']
})
