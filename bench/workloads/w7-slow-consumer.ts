import { request, type IncomingMessage } from 'node:http'
import { openService, type BenchContext } from '../context.js'
import { runMarker, sampleEvent } from '../events.js'
import { percentile, spread } from '../stats.js'
import type { RunningService } from '../service.js'

/**
 * The memory of a slow consumer (W7): a service on a fresh database holding a backlog many times
 * STREAM_BUFFER_BYTES (BACKLOG events of ~30 KB), its RSS watched first with nobody reading, then while one
 * SSE stream from seq 0 reads nothing at all. Were the stream's buffer unbounded, the service would pull the
 * whole backlog into memory for that client; bounded, it holds about STREAM_BUFFER_BYTES plus the page of
 * events it read last, then, after STREAM_STALL_MS, ends the stream with a resume hint. The client then
 * reads what was sent and checks the hint names its last seq.
 */
const BACKLOG = 1400
const PER_BATCH = 50
const BLOB = 'x'.repeat(30_000)
const BUFFER_BYTES = 1_048_576
const IDLE_SAMPLE_MS = 3000
const SAMPLE_EVERY_MS = 100

export async function runSlowConsumer (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  // the default STREAM_STALL_MS (30 s) in the recorded profiles; a third of it in --quick
  const stallMs = options.profile === 'quick' ? 10_000 : 30_000
  // one stream per tenant: a second one is refused (503) exactly as long as the slow one holds its slot,
  // which is how the bench sees the service cut it off without reading a byte of it
  const { service } = await openService(context, 'w7-slow', {
    STREAM_BUFFER_BYTES: String(BUFFER_BYTES),
    STREAM_STALL_MS: String(stallMs),
    STREAM_MAX_PER_TENANT: '1'
  })
  try {
    const backlogBytes = await seedBacklog(service, context.token)
    const idle = await sampleRss(service, IDLE_SAMPLE_MS)
    const slow = openPaused(`${service.url}/events/stream?afterSeq=0`, context.token)
    await slow.opened
    const opened = performance.now()
    const sampler = service.sampleMemory(SAMPLE_EVERY_MS)
    const cutOff = await untilSlotFree(service.url, context.token, 3 * stallMs + 60_000)
    const cutOffS = (performance.now() - opened) / 1000
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const during = sampler.stop()
    const outcome = await slow.readToEnd(BACKLOG)
    const after = await sampleRss(service, IDLE_SAMPLE_MS)
    const idleMb = percentile(idle, 50)
    const peakMb = Math.max(...during)
    const hintOk = cutOff && outcome.end?.reason === 'buffer_full' && outcome.end.resume_after_seq === outcome.lastSeq
    log(
      `  W7 slow consumer: RSS ${idleMb.toFixed(0)} MB with nobody reading, peak ${peakMb.toFixed(0)} MB while one stream read nothing (${cutOff ? `cut off ${cutOffS.toFixed(0)} s after it opened` : `**not cut off within ${cutOffS.toFixed(0)} s**`}, STREAM_STALL_MS ${stallMs}) ` +
        `(${(backlogBytes / 1e6).toFixed(0)} MB backlog, STREAM_BUFFER_BYTES ${BUFFER_BYTES}), ${percentile(after, 50).toFixed(0)} MB after; ` +
        `the stream ended ${outcome.end === undefined ? 'without an end message' : `with reason ${outcome.end.reason}, resume after ${outcome.end.resume_after_seq}`} ` +
        `after ${outcome.events} events (${(outcome.bytes / 1e6).toFixed(1)} MB) ${hintOk ? '(the hint names the last seq received)' : '**the hint does not name the last seq received**'}`
    )
    const label = `one SSE stream reading nothing until cut off (STREAM_STALL_MS ${stallMs}), ${(backlogBytes / 1e6).toFixed(0)} MB backlog`
    results.add({
      id: 'W7.slow.idle-rss',
      workload: 'W7',
      case: 'service RSS, median, nobody reading (after the backlog was posted)',
      metric: 'MB',
      service: spread([idleMb])
    })
    results.add({ id: 'W7.slow.peak-rss', workload: 'W7', case: `service RSS, peak, ${label}`, metric: 'MB', service: spread([peakMb]) })
    results.add({
      id: 'W7.slow.rss-rise',
      workload: 'W7',
      case: `service RSS, peak − nobody reading, ${label}`,
      metric: 'MB',
      service: spread([peakMb - idleMb])
    })
    results.add({
      id: 'W7.slow.sent',
      workload: 'W7',
      case: "bytes the slow stream was sent before the cut-off (service buffer and both sockets' buffers)",
      metric: 'MB',
      service: spread([outcome.bytes / 1e6])
    })
    results.notes.push(
      `W7 slow consumer: the service's RSS rose by ${(peakMb - idleMb).toFixed(0)} MB (${idleMb.toFixed(0)} → ${peakMb.toFixed(0)} MB) while one stream read nothing over a ` +
        `${(backlogBytes / 1e6).toFixed(0)} MB backlog with STREAM_BUFFER_BYTES=${BUFFER_BYTES}; ${cutOff ? `the service cut it off ${cutOffS.toFixed(0)} s after it opened (STREAM_STALL_MS ${stallMs})` : `it was **not cut off** within ${cutOffS.toFixed(0)} s`} ` +
        `(${outcome.end?.reason ?? 'no end message'}), having been sent ${(outcome.bytes / 1e6).toFixed(1)} MB, and ${hintOk ? 'its resume hint named the last seq it received' : '**its resume hint did not name the last seq it received**'}.`
    )
  } finally {
    await service.stop()
  }
}

/** Posts the backlog in batches; returns its size as the stream sends it (about the JSON of the events). */
async function seedBacklog (service: RunningService, token: string): Promise<number> {
  const marker = runMarker('w7-slow')
  let bytes = 0
  for (let sent = 0; sent < BACKLOG; sent += PER_BATCH) {
    const events = Array.from({ length: PER_BATCH }, (_, i) => ({
      ...sampleEvent(marker, sent + i),
      event_specificdetails: { blob: BLOB }
    }))
    const body = JSON.stringify({ events })
    bytes += Buffer.byteLength(body)
    const response = await fetch(`${service.url}/events/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body
    })
    if (response.status >= 300) throw new Error(`W7: posting the backlog answered ${response.status}: ${await response.text()}`)
    await response.arrayBuffer()
  }
  return bytes
}

async function sampleRss (service: RunningService, ms: number): Promise<number[]> {
  const sampler = service.sampleMemory(SAMPLE_EVERY_MS)
  await new Promise((resolve) => setTimeout(resolve, ms))
  return sampler.stop()
}

interface SlowOutcome {
  events: number
  bytes: number
  lastSeq: number
  end?: { resume_after_seq: number, reason: string }
}

/**
 * Polls GET /events/stream until it is answered 200 (the slow stream's slot is free: the service ended it),
 * then closes that probe at once. False if the slot stayed taken for `guardMs`.
 */
async function untilSlotFree (url: string, token: string, guardMs: number): Promise<boolean> {
  const deadline = performance.now() + guardMs
  while (performance.now() < deadline) {
    const abort = new AbortController()
    const response = await fetch(`${url}/events/stream`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal })
    if (response.status === 200) {
      abort.abort()
      await response.body?.cancel().catch(() => {})
      return true
    }
    await response.arrayBuffer()
    if (response.status !== 503) throw new Error(`W7: probing the stream slot answered ${response.status}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  return false
}

/** A stream whose client takes nothing off the socket until `readToEnd`. */
function openPaused (url: string, token: string): { opened: Promise<void>, readToEnd: (most: number) => Promise<SlowOutcome> } {
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (res) => {
      res.pause()
      resolve(res)
    })
    req.on('error', reject)
    req.end()
  })
  const opened = response.then((res) => {
    if (res.statusCode !== 200) throw new Error(`W7: the slow stream answered ${String(res.statusCode)}`)
  })
  opened.catch(() => {})
  return {
    opened,
    /** Reads until the service's `end` message, or, if it never comes (the stream was not cut off), until `most` events. */
    readToEnd: async (most) => {
      const res = await response
      const outcome: SlowOutcome = { events: 0, bytes: 0, lastSeq: 0 }
      let buffered = ''
      res.setEncoding('utf8')
      for await (const chunk of res) {
        outcome.bytes += Buffer.byteLength(chunk as string)
        buffered += chunk as string
        let end: number
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end)
          buffered = buffered.slice(end + 2)
          const data = block.slice(block.indexOf('data: ') + 6)
          if (block.startsWith('event: end')) outcome.end = JSON.parse(data) as SlowOutcome['end']
          else if (block.startsWith('id: ')) { outcome.events++; outcome.lastSeq = (JSON.parse(data) as { seq: number }).seq }
        }
        if (outcome.end === undefined && outcome.events >= most) { res.destroy(); break }
      }
      return outcome
    }
  }
}
