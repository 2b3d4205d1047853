import { CursorCodec, queryFingerprint } from '../../src/plugins/app/events/cursor.js'
import { toEventFilter, type PageRequest } from '../../src/plugins/app/events/filter.js'
import { BENCH_PRINCIPAL, type BenchContext } from '../context.js'
import { driverLoop } from '../driver-loop.js'
import { latenciesOf, runLoad } from '../load.js'
import { percentile, spread } from '../stats.js'
import { READ_QUERY_MAX_TIME_MS, type ReadDataset } from './read-dataset.js'

/**
 * W5: cursor pagination, newest first over the whole tenant: the time to fetch page 1, 100 and 1000,
 * one request at a time, against the driver fetching the same page through EventStore.findPage.
 *
 * Cursors for the deep pages are not reached by walking 999 pages through the API (on FerretDB every
 * page is a full scan): the position of the page's predecessor is read from the database and the cursor
 * encoded with the service's own codec and secret. Walking the first pages checks that these cursors
 * are exactly the ones the service hands out.
 */
const DEPTHS = [1, 100, 1000] as const

interface PageAt { depth: number, after?: { timestamp: Date, id: string }, cursor?: string }

export async function runPagination (context: BenchContext, dataset: ReadDataset): Promise<void> {
  const { options, results, log } = context
  // 100 per page where the data allows 1000 pages of it (the --quick dataset is smaller)
  const pageSize = Math.max(1, Math.min(100, Math.floor(dataset.size / 1000)))
  const codec = new CursorCodec(context.secret)
  const queryKey = queryFingerprint([BENCH_PRINCIPAL.tenant, 'desc', {}])
  const filter = toEventFilter(BENCH_PRINCIPAL.tenant, {})

  const pages: PageAt[] = []
  for (const depth of DEPTHS) {
    if (depth === 1) { pages.push({ depth }); continue }
    const [last] = await dataset.store.collection.find({ tenant: BENCH_PRINCIPAL.tenant }, { projection: { timestamp: 1 } })
      .sort({ timestamp: -1, _id: -1 }).skip((depth - 1) * pageSize - 1).limit(1).maxTimeMS(READ_QUERY_MAX_TIME_MS).toArray()
    if (last === undefined) throw new Error(`W5: the dataset has no page ${depth} of ${pageSize}`)
    const after = { timestamp: last.timestamp, id: last._id.toHexString() }
    pages.push({ depth, after, cursor: codec.encode(after, queryKey) })
  }
  await checkCursorsMatchTheService(context, dataset, pageSize, codec, queryKey)
  log(`  W5: cursors for pages ${DEPTHS.join(', ')} of ${pageSize} (derived cursors match the walked ones)`)

  const guardMs = options.readGuardSeconds * 1000
  for (const page of pages) {
    const path = `/events?limit=${pageSize}${page.cursor === undefined ? '' : `&cursor=${page.cursor}`}`
    const plan = { url: dataset.service.url, token: context.token, connections: 1, requests: [{ method: 'GET' as const, path }] }
    const request: PageRequest = { limit: pageSize + 1, order: 'desc', after: page.after }
    const driverCall = async () => (await dataset.store.findPage(filter, request)).length
    const service = { p50: [] as number[], p99: [] as number[] }
    const driver = { p50: [] as number[], p99: [] as number[] }
    // warm-up: one of each
    await runLoad(plan, { amount: 1, guardMs })
    await driverLoop(1, driverCall, { count: 1, guardMs })
    for (let rep = 0; rep < options.readRepetitions; rep++) {
      const run = await runLoad(plan, { amount: options.pageSamples, guardMs })
      const reference = await driverLoop(1, driverCall, { count: options.pageSamples, guardMs })
      if (run.failed > 0 || reference.failures > 0) {
        throw new Error(`W5 page ${page.depth}: ${run.failed} service and ${reference.failures} driver failures`)
      }
      const latencies = latenciesOf(run, (status) => status === 200)
      service.p50.push(percentile(latencies, 50))
      service.p99.push(percentile(latencies, 99))
      driver.p50.push(percentile(reference.latencies, 50))
      driver.p99.push(percentile(reference.latencies, 99))
      log(
        `  W5 page ${page.depth}: service p99 ${(service.p99[rep] as number).toFixed(1)} ms, driver p99 ${(driver.p99[rep] as number).toFixed(1)} ms`
      )
    }
    const caseLabel = `page ${page.depth} of ${pageSize}, over ${dataset.size.toLocaleString('en-US')} events`
    const label = 'driver: EventStore.findPage, same position'
    results.add({
      id: `W5.${page.depth}.p50`,
      workload: 'W5',
      case: caseLabel,
      metric: 'p50 ms',
      service: spread(service.p50),
      limit: { label, value: spread(driver.p50) }
    })
    results.add({
      id: `W5.${page.depth}.p99`,
      workload: 'W5',
      case: caseLabel,
      metric: 'p99 ms',
      service: spread(service.p99),
      limit: { label, value: spread(driver.p99) }
    })
  }
}

/** Walks pages 1 and 2 through the API: the derived cursor must equal next_cursor, and lead to the same events. */
async function checkCursorsMatchTheService (
  context: BenchContext,
  dataset: ReadDataset,
  pageSize: number,
  codec: CursorCodec,
  queryKey: string
): Promise<void> {
  const headers = { authorization: `Bearer ${context.token}` }
  const page1 = (await (await fetch(`${dataset.service.url}/events?limit=${pageSize}`, { headers })).json()) as {
    items: Array<{ id: string; timestamp: string }>
    next_cursor: string | null
  }
  const last = page1.items[pageSize - 1]
  if (last === undefined || page1.next_cursor === null) throw new Error('W5: page 1 is not full')
  const derived = codec.encode({ timestamp: new Date(last.timestamp), id: last.id }, queryKey)
  if (derived !== page1.next_cursor) throw new Error('W5: a derived cursor differs from the one the service hands out')
  const page2 = (await (await fetch(`${dataset.service.url}/events?limit=${pageSize}&cursor=${derived}`, { headers })).json()) as {
    items: Array<{ id: string }>
  }
  // the event right after page 1's last, read by position rather than by skipping a page: each GET /events
  // records an audit entry of the tenant (newest first, so at the top), and a skip counted after them lands early
  const position = { timestamp: new Date(last.timestamp), id: last.id }
  const [expected] = await dataset.store.findPage(toEventFilter(BENCH_PRINCIPAL.tenant, {}), { limit: 1, order: 'desc', after: position })
  if (page2.items[0]?.id !== expected?._id.toHexString()) {
    throw new Error(`W5: page 2 through the derived cursor starts at ${String(page2.items[0]?.id)}, not ${String(expected?._id.toHexString())}`)
  }
}
