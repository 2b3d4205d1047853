import { toEventFilter } from '../../src/plugins/app/events/filter.js'
import type { BenchContext } from '../context.js'
import { BENCH_PRINCIPAL } from '../context.js'
import { driverLoop } from '../driver-loop.js'
import { USERNAMES } from '../events.js'
import { latenciesOf, runLoad } from '../load.js'
import { percentile, spread } from '../stats.js'
import type { ReadDataset } from './read-dataset.js'

/**
 * W4: GET /events?username=X&timeStart&timeEnd (24 hours), limit 100, one request at a time, against
 * the same query issued straight through the driver: the service's own EventStore.findPage with the
 * filter its route would build, on the same collection. Queries rotate over users and days.
 */
const DISTINCT_QUERIES = 24
const LIMIT = 100

export async function runQueries (context: BenchContext, dataset: ReadDataset): Promise<void> {
  const { options, results, log } = context
  const queries = Array.from({ length: DISTINCT_QUERIES }, (_, k) => {
    const username = USERNAMES[(k * 37) % USERNAMES.length] as string
    const from = new Date(dataset.start.getTime() + (1 + (k % 8)) * 86400_000 + 6 * 3600_000)
    const to = new Date(from.getTime() + 86400_000)
    return { username, timeStart: from.toISOString(), timeEnd: to.toISOString() }
  })
  const paths = queries.map((q) => `/events?username=${q.username}&timeStart=${q.timeStart}&timeEnd=${q.timeEnd}&limit=${LIMIT}`)
  const filters = queries.map((q) =>
    toEventFilter(BENCH_PRINCIPAL.tenant, { username: [q.username], timeStart: q.timeStart, timeEnd: q.timeEnd })
  )

  // both sides must answer the same query with the same events, or the comparison means nothing
  const first = (await (await fetch(dataset.service.url + paths[0], { headers: { authorization: `Bearer ${context.token}` } })).json()) as {
    items: Array<{ id: string }>
  }
  const direct = await dataset.store.findPage(filters[0] as typeof filters[number], { limit: LIMIT + 1, order: 'desc' })
  if (first.items.length !== Math.min(LIMIT, direct.length) || first.items[0]?.id !== direct[0]?._id.toHexString()) {
    throw new Error(`W4: the service returned ${first.items.length} events, the driver ${direct.length}: not the same query`)
  }
  log(`  W4 query returns ${first.items.length} events (username, 24 h, limit ${LIMIT}) over ${dataset.size} events`)

  let driverQuery = 0
  const driverCall = async () => {
    const filter = filters[driverQuery++ % filters.length] as typeof filters[number]
    return (await dataset.store.findPage(filter, { limit: LIMIT + 1, order: 'desc' })).length
  }
  let servicePath = 0
  const plan = {
    url: dataset.service.url,
    token: context.token,
    connections: 1,
    requests: [{ method: 'GET' as const, path: () => paths[servicePath++ % paths.length] as string }]
  }
  const guardMs = options.readGuardSeconds * 1000

  const service = { p50: [] as number[], p99: [] as number[] }
  const driver = { p50: [] as number[], p99: [] as number[] }
  const errors: number[] = []
  for (let rep = 0; rep < options.readRepetitions; rep++) {
    // warm-up: one of each
    await runLoad(plan, { amount: 1, guardMs })
    await driverLoop(1, driverCall, { count: 1, guardMs })
    const run = await runLoad(plan, { amount: options.querySamples, guardMs })
    const reference = await driverLoop(1, driverCall, { count: options.querySamples, guardMs })
    const latencies = latenciesOf(run, (status) => status === 200)
    service.p50.push(percentile(latencies, 50))
    service.p99.push(percentile(latencies, 99))
    driver.p50.push(percentile(reference.latencies, 50))
    driver.p99.push(percentile(reference.latencies, 99))
    errors.push(run.failed + reference.failures)
    log(
      `  W4: service p50 ${(service.p50[rep] as number).toFixed(1)} / p99 ${(service.p99[rep] as number).toFixed(1)} ms, ` +
        `driver p50 ${(driver.p50[rep] as number).toFixed(1)} / p99 ${(driver.p99[rep] as number).toFixed(1)} ms (${latencies.length} + ${reference.calls} queries, errors ${errors[rep] as number})`
    )
  }
  const caseLabel = `GET /events username + 24 h, limit ${LIMIT}, over ${dataset.size.toLocaleString('en-US')} events`
  const label = 'driver: EventStore.findPage, same filter'
  results.add({
    id: 'W4.p50',
    workload: 'W4',
    case: caseLabel,
    metric: 'p50 ms',
    service: spread(service.p50),
    limit: { label, value: spread(driver.p50) }
  })
  results.add({
    id: 'W4.p99',
    workload: 'W4',
    case: caseLabel,
    metric: 'p99 ms',
    service: spread(service.p99),
    limit: { label, value: spread(driver.p99) }
  })
  results.add({ id: 'W4.errors', workload: 'W4', case: caseLabel, metric: 'errors', service: spread(errors) })
}
