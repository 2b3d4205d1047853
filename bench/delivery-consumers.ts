import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verify } from '../src/plugins/app/webhooks/signature.js'

/**
 * W7's consumers, in a child process of their own (bench/delivery-consumers-client.ts starts it): SSE
 * streams reading GET /events/stream as `curl -N` would, and webhook receivers on loopback that verify
 * every signature, as a SIEM's collector does. A process apart from the load generator, so that neither
 * one's event loop delays the other: autocannon's pace does not drop because consumers parse JSON on its
 * loop, and an arrival is timed when it arrives, not when autocannon lets the loop go. They still share
 * the 2 cores with the service, the database and the load: their CPU time is reported beside the figures.
 *
 * Every consumer keeps the seqs it received in arrival order (the parent checks them against the log),
 * and, for the events of the watched run (event_type = marker), the lag from the event's receipt
 * `timestamp` to its arrival here, on the same machine's clock.
 */
export type ConsumerCommand =
  | { type: 'open-streams', url: string, token: string, count: number, afterSeq: number }
  | { type: 'start-receivers', count: number }
  | { type: 'secrets', secrets: string[] }
  | { type: 'watch', marker: string }
  | { type: 'await', through: number, timeoutMs: number }
  | { type: 'report' }
  | { type: 'close' }

export interface ConsumerReport {
  name: string
  kind: 'stream' | 'webhook'
  /** Every seq received, in arrival order (webhooks: one delivery id counted once). */
  seqs: number[]
  /** ms from receipt timestamp to arrival, for the watched run's events. */
  lagsMs: number[]
  /** Date.now() of the first and last arrival of a watched event. */
  firstAt: number
  lastAt: number
  /** Streams: times the service ended the stream and the consumer resumed with Last-Event-ID, with the reasons. */
  reconnects: string[]
  /** Webhooks: POSTs received, of which repeated delivery ids (at-least-once retries) and bad signatures. */
  deliveries: number
  repeatedDeliveries: number
  badSignatures: number
  /** Webhooks: POSTs answered 503 because they came before the receiver was given its secret. */
  beforeSecret: number
}

export type ConsumerReply =
  | { type: 'streams-open', statuses: number[] }
  | { type: 'receivers', urls: string[] }
  | { type: 'ok' }
  | { type: 'awaited', reached: boolean }
  | { type: 'report', consumers: ConsumerReport[] }

interface PublicEvent { seq: number, timestamp: string, event_type: string }

class Consumer {
  readonly seqs: number[] = []
  readonly lagsMs: number[] = []
  firstAt = 0
  lastAt = 0
  readonly reconnects: string[] = []
  deliveries = 0
  repeatedDeliveries = 0
  badSignatures = 0
  beforeSecret = 0

  constructor (readonly name: string, readonly kind: 'stream' | 'webhook') {}

  receive (event: PublicEvent, now: number): void {
    this.seqs.push(event.seq)
    if (event.event_type !== watched) return
    this.lagsMs.push(now - Date.parse(event.timestamp))
    if (this.firstAt === 0) this.firstAt = now
    this.lastAt = now
  }

  get last (): number {
    return this.seqs[this.seqs.length - 1] ?? 0
  }

  report (): ConsumerReport {
    const { name, kind, seqs, lagsMs, firstAt, lastAt, reconnects, deliveries, repeatedDeliveries, badSignatures, beforeSecret } = this
    return { name, kind, seqs, lagsMs, firstAt, lastAt, reconnects, deliveries, repeatedDeliveries, badSignatures, beforeSecret }
  }
}

let watched = ''
const consumers: Consumer[] = []
const servers: Server[] = []
const streams: Array<{ close: () => void }> = []
let secrets: string[] = []
const waiters = new Set<() => void>()
const notify = (): void => { for (const waiter of [...waiters]) waiter() }

/**
 * One SSE stream that resumes after the last seq it got whenever the service ends it (`event: end`: a
 * buffer cut-off, a shutdown) or the connection drops, as the consumer in docs/streaming.md does.
 */
function openStream (consumer: Consumer, url: string, token: string, afterSeq: number): Promise<number> {
  let closed = false
  let current: ReturnType<typeof request> | undefined
  let firstStatus: ((status: number) => void) | undefined
  const first = new Promise<number>((resolve) => { firstStatus = resolve })
  const connect = (): void => {
    const position = consumer.last > 0 ? consumer.last : afterSeq
    current = request(
      `${url}/events/stream?afterSeq=${afterSeq}`,
      {
        headers: {
          accept: 'text/event-stream',
          authorization: `Bearer ${token}`,
          ...(position > afterSeq ? { 'last-event-id': String(position) } : {})
        }
      },
      (res) => {
        firstStatus?.(res.statusCode ?? 0)
        firstStatus = undefined
        if (res.statusCode !== 200) {
          res.resume()
          return again(`HTTP ${String(res.statusCode)}`)
        }
        parse(res, consumer, (reason) => again(reason))
      }
    )
    current.on('error', (err) => { firstStatus?.(0); firstStatus = undefined; again(`connection: ${err.message}`) })
    current.end()
  }
  const again = (reason: string): void => {
    if (closed) return
    consumer.reconnects.push(reason)
    setTimeout(connect, 1000).unref()
  }
  streams.push({ close: () => { closed = true; current?.destroy() } })
  connect()
  return first
}

function parse (res: IncomingMessage, consumer: Consumer, ended: (reason: string) => void): void {
  let buffered = ''
  let endReason = 'the connection ended'
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => {
    buffered += chunk
    const now = Date.now()
    let end: number
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      if (block.startsWith(':') || block.startsWith('retry:')) continue
      const data = block.slice(block.indexOf('data: ') + 6)
      if (block.startsWith('event: end')) { endReason = `end: ${(JSON.parse(data) as { reason: string }).reason}`; continue }
      consumer.receive(JSON.parse(data) as PublicEvent, now)
    }
    notify()
  })
  res.on('end', () => ended(endReason))
  res.on('error', () => ended('the connection failed'))
}

async function startReceiver (consumer: Consumer, index: number): Promise<string> {
  const seen = new Set<string>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const now = Date.now()
      const body = Buffer.concat(chunks).toString('utf8')
      const header = (name: string): string => String(req.headers[name] ?? '')
      const delivery = {
        id: header('audit-webhook-id'),
        timestamp: header('audit-webhook-timestamp'),
        signature: header('audit-webhook-signature')
      }
      consumer.deliveries++
      // the subscription's first delivery (its own audited creation) may come before the parent has passed
      // the secret on: not ready yet is a 503, retried by the service, not a bad signature
      const secret = secrets[index]
      if (secret === undefined) {
        consumer.beforeSecret++
        res.writeHead(503).end()
        return
      }
      if (!verify(secret, delivery, body)) {
        consumer.badSignatures++
        res.writeHead(401).end()
        return
      }
      res.writeHead(200).end()
      // at least once: a delivery id already taken is dropped, as the README tells receivers to
      if (seen.has(delivery.id)) { consumer.repeatedDeliveries++; return }
      seen.add(delivery.id)
      for (const event of JSON.parse(body) as PublicEvent[]) consumer.receive(event, now)
      notify()
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
}

async function handle (command: ConsumerCommand): Promise<ConsumerReply> {
  switch (command.type) {
    case 'open-streams': {
      const opened = Array.from({ length: command.count }, (_, i) => {
        const consumer = new Consumer(`stream ${i + 1}`, 'stream')
        consumers.push(consumer)
        return openStream(consumer, command.url, command.token, command.afterSeq)
      })
      return { type: 'streams-open', statuses: await Promise.all(opened) }
    }
    case 'start-receivers': {
      const urls: string[] = []
      for (let i = 0; i < command.count; i++) {
        const consumer = new Consumer(`webhook ${i + 1}`, 'webhook')
        consumers.push(consumer)
        urls.push(await startReceiver(consumer, i))
      }
      return { type: 'receivers', urls }
    }
    case 'secrets': secrets = command.secrets; return { type: 'ok' }
    case 'watch': watched = command.marker; return { type: 'ok' }
    case 'await': {
      const deadline = Date.now() + command.timeoutMs
      const reached = (): boolean => consumers.every((consumer) => consumer.last >= command.through)
      while (!reached() && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 500)
          waiters.add(() => { clearTimeout(timer); resolve() })
        })
        waiters.clear()
      }
      return { type: 'awaited', reached: reached() }
    }
    case 'report': return { type: 'report', consumers: consumers.map((consumer) => consumer.report()) }
    case 'close':
      for (const stream of streams) stream.close()
      await Promise.all(
        servers.map(
          async (server) =>
            await new Promise<void>((resolve) => {
              server.closeAllConnections()
              server.close(() => resolve())
            })
        )
      )
      return { type: 'ok' }
  }
}

process.on('message', (message: { id: number, command: ConsumerCommand }) => {
  handle(message.command)
    .then((reply) => process.send?.({ id: message.id, reply }))
    .catch((err: unknown) => process.send?.({ id: message.id, error: (err as Error).message }))
})
process.on('disconnect', () => process.exit(0))
process.send?.({ id: 0, ready: true })
