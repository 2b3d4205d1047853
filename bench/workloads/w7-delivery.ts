import type { Db } from 'mongodb'
import { BENCH_PRINCIPAL, openService, type BenchContext } from '../context.js'
import { startCpuMeter, processCpuMs, type CpuPerEvent } from '../cpu.js'
import { createUser } from '../database.js'
import { DeliveryConsumers } from '../delivery-consumers-client.js'
import type { ConsumerReport } from '../delivery-consumers.js'
import { EventSequence, runMarker } from '../events.js'
import { describeFailures, runLoad, steadyRate, warmUpAndSize, type LoadPlan } from '../load.js'
import { pairedRatio } from '../report.js'
import type { DeliveryCheck } from '../results.js'
import type { RunningService } from '../service.js'
import { percentile, spread } from '../stats.js'
import { mintToken, type BenchIdentity } from '../token.js'
import { runSlowConsumer } from './w7-slow-consumer.js'
import { describeCheck } from '../results.js'

/**
 * W7: single-event POST /events on 50 connections (group commit on), as W6, once with nothing consuming and
 * once while 5 SSE streams follow the tenant (GET /events/stream from seq 0) and 2 webhook subscriptions
 * (from seq 0, no filter) deliver to receivers on loopback, allowlisted with WEBHOOK_ALLOW_HOSTS. The
 * consumers are attached before the warm-up, so the measured run sees delivery in its steady state. The
 * target: ingest while delivering within 10% of without. Then every consumer's seqs are checked against
 * the log (every event exactly once, in seq order: the lossless claim), and the delivery rate and the lag
 * from receipt to arrival are recorded. A third mode repeats the second with STREAM_POLL_MS=1000. Last,
 * the memory of one slow stream (w7-slow-consumer.ts). The consumers live in a child process
 * (delivery-consumers.ts says why); the figures are in BENCHMARKS.md.
 */
const CONNECTIONS = 50
const MAX_REQUESTS = 200_000
const STREAMS = 5
const WEBHOOKS = 2
/** How long the consumers may take, after the last answer, to receive the last event before they count as behind. */
const CATCH_UP_MS = 120_000
/** The same configuration in every mode; the allowlist only matters when there are webhooks. */
const ENV = { WEBHOOK_ALLOW_HOSTS: '127.0.0.1' }
const MODES = [
  { key: 'none', label: 'nothing consuming', consumers: false, env: {}, prefix: '' },
  { key: 'delivering', label: `${STREAMS} SSE streams and ${WEBHOOKS} webhooks delivering`, consumers: true, env: {}, prefix: '' },
  // the same with a replica looking for new events 4 times less often (STREAM_POLL_MS, default 250): fewer,
  // larger reads of the log by every follower, so whether the reads' count is what ingest pays for shows
  {
    key: 'poll-1000',
    label: `${STREAMS} SSE streams and ${WEBHOOKS} webhooks delivering, STREAM_POLL_MS=1000`,
    consumers: true,
    env: { STREAM_POLL_MS: '1000' },
    prefix: 'poll-1000.'
  }
] as const

/** Creates the webhook subscriptions: an admin of the bench tenant. */
const BENCH_ADMIN: BenchIdentity = { username: 'bench-admin', tenant: BENCH_PRINCIPAL.tenant, roles: ['admin'] }

interface Delivered {
  /** Per consumer: events of the measured run delivered per second, first to last arrival. */
  streamRates: number[]
  webhookRates: number[]
  streamLags: number[]
  webhookLags: number[]
  /** CPU ms the consumers' process spent per event of the measured run. */
  consumerCpuMsPerEvent: number
  /** ms of the read every follower makes when the log grows (100 events after a seq), through the driver, after the run. */
  followerReadMs: number
  logSize: number
}

export async function runDelivery (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  const adminToken = await mintToken(context.database.url, context.secret, BENCH_ADMIN)
  const rates: Record<string, number[]> = {}
  const cpu: Record<string, CpuPerEvent[]> = {}
  const delivered: Record<string, Delivered[]> = {}
  for (let rep = 0; rep < options.repetitions; rep++) {
    for (const mode of MODES) {
      const { service, db } = await openService(context, `w7-${mode.key}`, { ...ENV, ...mode.env })
      let consumers: DeliveryConsumers | undefined
      try {
        if (mode.consumers) {
          await createUser(db, BENCH_ADMIN)
          consumers = await attachConsumers(service, context.token, adminToken)
        }
        const warm = new EventSequence(runMarker(`w7-${mode.key}-warm`))
        const { amount } = await warmUpAndSize(
          plan(service.url, context.token, warm),
          options.warmupSeconds * 1000,
          options.measureSeconds * 1000,
          options.minPerConnection,
          MAX_REQUESTS,
          options.guardSeconds * 1000
        )
        const sequence = new EventSequence(runMarker(`w7-${mode.key}`))
        await consumers?.ask<'ok'>({ type: 'watch', marker: sequence.marker })
        const consumerCpuBefore = consumers === undefined ? 0 : processCpuMs(consumers.pid)
        const meter = startCpuMeter({ service: service.pid, database: context.database.pid })
        const run = await runLoad(plan(service.url, context.token, sequence), { amount, guardMs: options.guardSeconds * 1000 })
        const created = run.byStatus['201'] ?? 0
        append(cpu, mode.key, meter.stop(created))
        const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, run.acknowledgedIds, run.maxUnanswered)
        const rate = steadyRate(run, 201)
        append(rates, mode.key, rate)
        log(
          `  W7 ${mode.label}: ${Math.round(rate)} events/s, errors ${run.failed}${describeFailures(run)} (${created} created, ${describeCheck(check)})`
        )
        if (consumers !== undefined) {
          const outcome = await collect(context, db, consumers, sequence.marker)
          outcome.consumerCpuMsPerEvent = (processCpuMs(consumers.pid) - consumerCpuBefore) / Math.max(1, created)
          append(delivered, mode.key, outcome)
        }
      } finally {
        await consumers?.stop()
        await service.stop()
      }
    }
  }

  const none = spread(rates.none ?? [])
  for (const mode of MODES) {
    results.add({
      id: `W7.${mode.key}.rate`,
      workload: 'W7',
      case: `POST /events, ${CONNECTIONS} conn., ${mode.label}`,
      metric: 'events/s',
      service: spread(rates[mode.key] ?? [])
    })
    results.addCpu(`W7 POST /events, ${CONNECTIONS} conn., ${mode.label}`, cpu[mode.key] ?? [])
    if (mode.consumers) {
      recordDelivered(
        context,
        `W7.${mode.prefix}`,
        mode.env,
        delivered[mode.key] ?? [],
        pairedRatio(spread(rates[mode.key] ?? []), none).median
      )
    }
  }

  log('W7: one slow SSE consumer against none, service RSS')
  await runSlowConsumer(context)
}

/** The delivery figures of one mode: ids `W7.streams.rate`, `W7.webhooks.lag.p99`... (`W7.poll-1000.streams.rate` for the variant). */
function recordDelivered (
  context: BenchContext,
  prefix: string,
  env: Record<string, string>,
  delivered: Delivered[],
  ingestRatio: number
): void {
  const { results } = context
  const config = Object.entries(env)
    .map(([k, v]) => `, ${k}=${v}`)
    .join('')
  // per repetition: the median consumer's rate, and the lag percentiles over all consumers of a kind
  const perRep = (pick: (d: Delivered) => number) => spread(delivered.map(pick))
  const median = (values: number[]) => spread(values).median
  results.add({
    id: `${prefix}streams.rate`,
    workload: 'W7',
    case: `GET /events/stream, per stream (median of ${STREAMS}), events of the run delivered${config}`,
    metric: 'events/s',
    service: perRep((d) => median(d.streamRates))
  })
  results.add({
    id: `${prefix}webhooks.rate`,
    workload: 'W7',
    case: `webhooks, per subscription (median of ${WEBHOOKS}), events of the run delivered${config}`,
    metric: 'events/s',
    service: perRep((d) => median(d.webhookRates))
  })
  for (const p of [50, 99] as const) {
    results.add({
      id: `${prefix}streams.lag.p${p}`,
      workload: 'W7',
      case: `GET /events/stream, receipt timestamp → arrival at the consumer${config}`,
      metric: `p${p} ms`,
      service: perRep((d) => percentile(d.streamLags, p))
    })
    results.add({
      id: `${prefix}webhooks.lag.p${p}`,
      workload: 'W7',
      case: `webhooks, receipt timestamp → arrival at the receiver${config}`,
      metric: `p${p} ms`,
      service: perRep((d) => percentile(d.webhookLags, p))
    })
  }
  results.add({
    id: `${prefix}follower-read`,
    workload: 'W7',
    case: `one follower's read (100 events after a seq) through the driver, after the run, at ${delivered.map((d) => d.logSize).join(', ')} events in the log${config}`,
    metric: 'p50 ms',
    service: perRep((d) => d.followerReadMs)
  })
  results.add({
    id: `${prefix}consumers.cpu`,
    workload: 'W7',
    case: `the ${STREAMS + WEBHOOKS} consumers' process (on the same 2 cores), per event ingested${config}`,
    metric: 'cpu ms/event',
    service: perRep((d) => d.consumerCpuMsPerEvent)
  })
  results.notes.push(
    `W7${config}: ingest while ${STREAMS} SSE streams and ${WEBHOOKS} webhooks deliver runs at ${(100 * ingestRatio).toFixed(0)}% of the rate with nothing consuming (target: at least 90%). ` +
      `Per consumer, events of the measured run delivered per second: streams ${delivered.map((d) => d.streamRates.map((r) => r.toFixed(0)).join(', ')).join(' | ')}; webhooks ${delivered.map((d) => d.webhookRates.map((r) => r.toFixed(0)).join(', ')).join(' | ')}.`
  )
}

/** The consumers' process, its 5 streams open and its 2 receivers subscribed, everything from seq 0. */
async function attachConsumers (service: RunningService, readerToken: string, adminToken: string): Promise<DeliveryConsumers> {
  const consumers = new DeliveryConsumers()
  try {
    const { urls } = await consumers.ask<'receivers'>({ type: 'start-receivers', count: WEBHOOKS })
    const secrets: string[] = []
    for (const url of urls) {
      const response = await fetch(`${service.url}/tenant/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url, start_after_seq: 0, description: 'bench W7' })
      })
      if (response.status !== 201) throw new Error(`W7: creating a webhook answered ${response.status}: ${await response.text()}`)
      secrets.push((await response.json() as { secret: string }).secret)
    }
    await consumers.ask<'ok'>({ type: 'secrets', secrets })
    const { statuses } = await consumers.ask<'streams-open'>({
      type: 'open-streams',
      url: service.url,
      token: readerToken,
      count: STREAMS,
      afterSeq: 0
    })
    if (statuses.some((status) => status !== 200)) throw new Error(`W7: opening the streams answered ${statuses.join(', ')}`)
    return consumers
  } catch (err) {
    await consumers.stop()
    throw err
  }
}

/**
 * Waits until every consumer has the tenant's last event, then checks each one's seqs against the log:
 * every event of the tenant (the warm-up's, the run's and the audit events of the subscriptions) exactly
 * once, in seq order.
 */
async function collect (context: BenchContext, db: Db, consumers: DeliveryConsumers, marker: string): Promise<Delivered> {
  const logged = await tenantSeqs(db)
  const through = logged[logged.length - 1] ?? 0
  const { reached } = await consumers.ask<'awaited'>({ type: 'await', through, timeoutMs: CATCH_UP_MS })
  const { consumers: reports } = await consumers.ask<'report'>({ type: 'report' })
  // audit events recorded meanwhile (none are expected) would be in the log now and not in `logged`
  const expected = (await tenantSeqs(db)).filter((seq) => seq <= through)
  for (const report of reports) {
    const check = deliveryCheck(report, expected, marker)
    context.results.deliveries.push(check)
    context.log(
      `    ${report.name}: ${check.received} events, ${check.ok ? 'every event once, in seq order' : `**${check.missing} missing, ${check.repeated} repeated, ${check.outOfOrder} out of order**`}` +
        `${report.kind === 'webhook' ? `; ${report.deliveries} POSTs, ${report.repeatedDeliveries} repeated, ${report.badSignatures} bad signatures, ${report.beforeSecret} before the secret was known` : ''}` +
        `${report.reconnects.length > 0 ? `; resumed ${report.reconnects.length}× (${report.reconnects.join(', ')})` : ''}`
    )
  }
  if (!reached) context.log(`    not every consumer reached seq ${through} within ${CATCH_UP_MS / 1000} s`)
  const followerReadMs = await timeFollowerRead(db, through)
  context.log(
    `    a follower's read of 100 events after a seq, through the driver, at ${expected.length} events in the log: ${followerReadMs.toFixed(0)} ms (median of ${READ_SAMPLES})`
  )
  const rateOf = (r: ConsumerReport) =>
    r.lagsMs.length > 1 && r.lastAt > r.firstAt ? r.lagsMs.length / ((r.lastAt - r.firstAt) / 1000) : Number.NaN
  const streams = reports.filter((r) => r.kind === 'stream')
  const webhooks = reports.filter((r) => r.kind === 'webhook')
  return {
    streamRates: streams.map(rateOf),
    webhookRates: webhooks.map(rateOf),
    streamLags: streams.flatMap((r) => r.lagsMs),
    webhookLags: webhooks.flatMap((r) => r.lagsMs),
    consumerCpuMsPerEvent: Number.NaN,
    followerReadMs,
    logSize: expected.length
  }
}

const READ_SAMPLES = 5

/**
 * The read each stream and webhook worker makes when the tenant's settled mark rises (seq-reader.ts: the
 * events after its position, up to the mark, in seq order, 100 at most), timed through the driver. On
 * FerretDB, which uses no index, it costs a scan of the collection, whatever the page holds.
 */
async function timeFollowerRead (db: Db, through: number): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < READ_SAMPLES; i++) {
    const began = performance.now()
    await db
      .collection('events')
      .find({ tenant: BENCH_PRINCIPAL.tenant, seq: { $gt: Math.max(0, through - 100), $lte: through } }, { projection: { idem_key: 0 } })
      .sort({ seq: 1 })
      .limit(100)
      .toArray()
    times.push(performance.now() - began)
  }
  return percentile(times, 50)
}

/** Every seq of the bench tenant in the log, ascending (a scan on FerretDB: once per run, after it). */
async function tenantSeqs (db: Db): Promise<number[]> {
  const docs = await db
    .collection<{ seq: number }>('events')
    .find({ tenant: BENCH_PRINCIPAL.tenant }, { projection: { _id: 0, seq: 1 } })
    .toArray()
  return docs.map((doc) => doc.seq).sort((a, b) => a - b)
}

function deliveryCheck (report: ConsumerReport, expected: number[], marker: string): DeliveryCheck {
  const counts = new Map<number, number>()
  for (const seq of report.seqs) counts.set(seq, (counts.get(seq) ?? 0) + 1)
  const missing = expected.filter((seq) => !counts.has(seq)).length
  const repeated = [...counts.values()].reduce((sum, n) => sum + n - 1, 0)
  let outOfOrder = 0
  for (let i = 1; i < report.seqs.length; i++) if ((report.seqs[i] as number) <= (report.seqs[i - 1] as number)) outOfOrder++
  const inLog = new Set(expected)
  const unexpected = [...counts.keys()].filter((seq) => !inLog.has(seq)).length
  return {
    run: marker,
    consumer: report.name,
    expected: expected.length,
    received: report.seqs.length,
    missing,
    repeated,
    outOfOrder,
    unexpected,
    badSignatures: report.badSignatures,
    ok: missing === 0 && repeated === 0 && outOfOrder === 0 && unexpected === 0 && report.badSignatures === 0
  }
}

function append<T> (lists: Record<string, T[]>, key: string, value: T): void {
  let list = lists[key]
  if (list === undefined) lists[key] = list = []
  list.push(value)
}

function plan (url: string, token: string, sequence: EventSequence): LoadPlan {
  return {
    url,
    token,
    connections: CONNECTIONS,
    requests: [{ method: 'POST', path: '/events', body: () => JSON.stringify(sequence.next()) }]
  }
}
