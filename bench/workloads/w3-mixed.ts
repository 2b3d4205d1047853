import { BENCH_PRINCIPAL, openService, type BenchContext } from '../context.js'
import { EventSequence, USERNAMES, runMarker } from '../events.js'
import { latenciesOf, runLoad, steadyRate, warmUpAndSize, type LoadPlan, type LoadRequest } from '../load.js'
import { percentile, spread } from '../stats.js'
import { startCpuMeter, type CpuPerEvent } from '../cpu.js'

/**
 * W3: 95% single-event writes and 5% reads on 50 connections: every connection sends 19 POST /events
 * then one GET /events (a username over the last 24 hours, limit 100, the W4 query on live data).
 * Writes answer 201 and reads 200, which is how their latencies are told apart.
 */
const CONNECTIONS = 50
const WRITES_PER_READ = 19
const MAX_REQUESTS = 200_000

export async function runMixed (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  const { service, db } = await openService(context, 'w3')
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
      const sized = await warmUpAndSize(plan(service.url, context.token, warmSequence), options.warmupSeconds * 1000, options.measureSeconds * 1000, MAX_REQUESTS)
      // every connection must get round its whole cycle at least once, or the mix is not 95/5
      const amount = Math.max(sized.amount, CONNECTIONS * (WRITES_PER_READ + 1))
      const sequence = new EventSequence(runMarker('w3'))
      const meter = startCpuMeter({ service: service.pid, database: context.database.pid })
      const run = await runLoad(plan(service.url, context.token, sequence), { amount, guardMs: options.guardSeconds * 1000 })
      const created = run.byStatus['201'] ?? 0
      cpu.push(meter.stop(created))
      const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, created, run.maxUnanswered)
      const reads = latenciesOf(run, (status) => status === 200)
      rates.push(steadyRate(run, 201))
      writeP99s.push(percentile(latenciesOf(run, (status) => status === 201), 99))
      readP50s.push(percentile(reads, 50))
      readP99s.push(percentile(reads, 99))
      errors.push(run.failed)
      log(`  ${caseLabel}: ${Math.round(rates[rep] as number)} write events/s, read p99 ${(readP99s[rep] as number).toFixed(1)} ms over ${reads.length} reads, ` +
        `errors ${run.failed} (${created} created, stored ${check.stored}${check.ok ? '' : ' MISMATCH'})`)
    }
  } finally {
    await service.stop()
  }
  results.addCpu(caseLabel + ' (per write; reads included)', cpu)
  const limit = results.limits['insertMany-100']
  results.add({ id: 'W3.rate', workload: 'W3', case: caseLabel, metric: 'events/s', service: spread(rates), limit: limit && { label: limit.label, value: limit.rate } })
  results.add({ id: 'W3.write.p99', workload: 'W3', case: caseLabel + ' (writes)', metric: 'p99 ms', service: spread(writeP99s) })
  results.add({ id: 'W3.read.p50', workload: 'W3', case: caseLabel + ' (reads)', metric: 'p50 ms', service: spread(readP50s) })
  results.add({ id: 'W3.read.p99', workload: 'W3', case: caseLabel + ' (reads)', metric: 'p99 ms', service: spread(readP99s) })
  results.add({ id: 'W3.errors', workload: 'W3', case: caseLabel, metric: 'errors', service: spread(errors) })
}

function plan (url: string, token: string, sequence: EventSequence): LoadPlan {
  const write: LoadRequest = { method: 'POST', path: '/events', body: () => JSON.stringify(sequence.next()) }
  // the last 24 hours, where this run's events are; a different user each time
  const end = new Date(Date.now() + 3600_000).toISOString()
  const start = new Date(Date.now() - 86400_000 + 3600_000).toISOString()
  let reads = 0
  const read: LoadRequest = {
    method: 'GET',
    path: () => `/events?username=${USERNAMES[reads++ % USERNAMES.length] as string}&timeStart=${start}&timeEnd=${end}&limit=100`
  }
  return { url, token, connections: CONNECTIONS, requests: [...Array.from({ length: WRITES_PER_READ }, () => write), read] }
}
