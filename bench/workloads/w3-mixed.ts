import { BENCH_PRINCIPAL, openService, type BenchContext } from '../context.js'
import { startCpuMeter, type CpuPerEvent } from '../cpu.js'
import { EventSequence, USERNAMES, runMarker } from '../events.js'
import { describeFailures, latenciesOf, runLoad, steadyRate, warmUpAndSize, type LoadPlan } from '../load.js'
import { percentile, spread } from '../stats.js'
import { READ_QUERY_MAX_TIME_MS } from './read-dataset.js'
import { describeCheck } from '../results.js'

/**
 * W3: 95% single-event writes and 5% reads on 50 connections. Every twentieth request, across all
 * connections, is a GET /events (a username over the last 24 hours, limit 100: the W4 query on live
 * data), so reads are spread over the run rather than sent by every connection at once. Writes answer
 * 201 and reads 200, which is how their latencies are told apart. The query time limit is raised as in
 * W4: on FerretDB a read scans the collection, and W3 times reads rather than counting time-outs.
 */
const CONNECTIONS = 50
const READ_EVERY = 20
const MAX_REQUESTS = 200_000

export async function runMixed (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  const { service, db } = await openService(context, 'w3', { QUERY_MAX_TIME_MS: String(READ_QUERY_MAX_TIME_MS) })
  const caseLabel = `95% POST /events + 5% GET /events, ${CONNECTIONS} conn.`
  const rates: number[] = []
  const writeP99s: number[] = []
  const readP50s: number[] = []
  const readP99s: number[] = []
  const errors: number[] = []
  const cpu: CpuPerEvent[] = []
  try {
    for (let rep = 0; rep < options.repetitions; rep++) {
      const warmSequence = new EventSequence(runMarker('w3-warm'))
      const { amount } = await warmUpAndSize(
        plan(service.url, context.token, warmSequence),
        options.warmupSeconds * 1000,
        options.measureSeconds * 1000,
        options.minPerConnection,
        MAX_REQUESTS,
        options.guardSeconds * 1000
      )
      const sequence = new EventSequence(runMarker('w3'))
      const meter = startCpuMeter({ service: service.pid, database: context.database.pid })
      const run = await runLoad(plan(service.url, context.token, sequence), { amount, guardMs: options.guardSeconds * 1000 })
      const created = run.byStatus['201'] ?? 0
      cpu.push(meter.stop(created))
      const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, run.acknowledgedIds, run.maxUnanswered)
      const reads = latenciesOf(run, (status) => status === 200)
      rates.push(steadyRate(run, 201))
      writeP99s.push(percentile(latenciesOf(run, (status) => status === 201), 99))
      readP50s.push(percentile(reads, 50))
      readP99s.push(percentile(reads, 99))
      errors.push(run.failed)
      log(
        `  ${caseLabel}: ${Math.round(rates[rep] as number)} write events/s, read p99 ${(readP99s[rep] as number).toFixed(1)} ms over ${reads.length} reads, ` +
          `errors ${run.failed}${describeFailures(run)} (${created} created, ${describeCheck(check)})`
      )
    }
  } finally {
    await service.stop()
  }
  results.addCpu(caseLabel + ' (per write; reads included)', cpu)
  const limit = results.limits['insertMany-100']
  results.add({
    id: 'W3.rate',
    workload: 'W3',
    case: caseLabel,
    metric: 'events/s',
    service: spread(rates),
    limit: limit && { label: limit.label, value: limit.rate }
  })
  results.add({ id: 'W3.write.p99', workload: 'W3', case: caseLabel + ' (writes)', metric: 'p99 ms', service: spread(writeP99s) })
  results.add({ id: 'W3.read.p50', workload: 'W3', case: caseLabel + ' (reads)', metric: 'p50 ms', service: spread(readP50s) })
  results.add({ id: 'W3.read.p99', workload: 'W3', case: caseLabel + ' (reads)', metric: 'p99 ms', service: spread(readP99s) })
  results.add({ id: 'W3.errors', workload: 'W3', case: caseLabel, metric: 'errors', service: spread(errors) })
}

function plan (url: string, token: string, sequence: EventSequence): LoadPlan {
  // the last 24 hours, where this run's events are; a different user each time
  const end = new Date(Date.now() + 3600_000).toISOString()
  const start = new Date(Date.now() - 86400_000 + 3600_000).toISOString()
  let sent = 0
  return {
    url,
    token,
    connections: CONNECTIONS,
    requests: [{
      next: () => {
        sent++
        if (sent % READ_EVERY !== 0) return { method: 'POST', path: '/events', body: JSON.stringify(sequence.next()) }
        const username = USERNAMES[(sent / READ_EVERY) % USERNAMES.length] as string
        return { method: 'GET', path: `/events?username=${username}&timeStart=${start}&timeEnd=${end}&limit=100` }
      }
    }]
  }
}
