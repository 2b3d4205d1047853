import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, bearer, sampleEvent, userWithToken } from '../helper.js'

/**
 * Keyset pagination on (timestamp, id) against the real database: 2,500 events submitted in three
 * batches (so hundreds share one timestamp and only the id orders them), walked page by page while
 * other requests keep inserting. Also the cursor's refusals and the query time limit.
 */
const ORIGINALS = 1000
const TYPES = 5

interface Item { id: string, timestamp: string, event_type: string }
interface Page { items: Item[], next_cursor: string | null }

/** A small event: FerretDB decodes every stored document for every page, so less to decode is a faster test. */
function smallEvent (overrides: Record<string, unknown>): Record<string, unknown> {
  return sampleEvent({ event_specificdetails: undefined, ...overrides })
}

/** Submits events through POST /events/batch; their ids and receipt timestamps, in input order. */
async function submit (
  app: FastifyInstance,
  headers: Record<string, string>,
  events: Array<Record<string, unknown>>
): Promise<Array<{ id: string; timestamp: string }>> {
  const res = await app.inject({ method: 'POST', url: '/events/batch', headers, payload: { events } })
  if (res.statusCode !== 200) throw new Error(`batch refused: ${res.statusCode} ${res.body}`)
  return (res.json().items as Array<{ id: string; timestamp: string; status: string }>).map(({ id, timestamp }) => ({ id, timestamp }))
}

/** Compares (timestamp, id): the order pages are served in. */
function compareKeys (a: Item, b: Item): number {
  return Date.parse(a.timestamp) - Date.parse(b.timestamp) || a.id.localeCompare(b.id)
}

/**
 * New events from other requests: each `start()` sends one batch of five through POST /events/batch
 * and resolves when it is acknowledged.
 */
function newEventSource (app: FastifyInstance, headers: Record<string, string>) {
  const ids: string[] = []
  let requests = 0
  return {
    ids,
    get requests () { return requests },
    start: async (): Promise<void> => {
      const n = requests++
      const created = await submit(
        app,
        headers,
        Array.from({ length: 5 }, (_, i) => smallEvent({ event_type: 'Arrival', description: `arrival ${n}.${i}` }))
      )
      ids.push(...created.map((item) => item.id))
    }
  }
}

t.test('keyset pagination', async (t) => {
  // FerretDB sorts every page in memory: on a busy two-core machine a page can take longer than the 5 s default
  // limit, which is tested on its own below; here only correctness is at stake
  const app = await build(t, { config: { QUERY_MAX_TIME_MS: 60_000 } })
  const reader = bearer(await userWithToken(app, { username: 'reader-a', roles: ['reader'], tenant: 'tenant-a' }))
  const writer = bearer(await userWithToken(app, { username: 'writer-a', roles: ['writer'], tenant: 'tenant-a' }))
  const readerB = bearer(await userWithToken(app, { username: 'reader-b', roles: ['reader'], tenant: 'tenant-b' }))
  const writerB = bearer(await userWithToken(app, { username: 'writer-b', roles: ['writer'], tenant: 'tenant-b' }))

  // three batches: 400 + 400 + 200 events, each batch sharing one receipt timestamp
  const originals: Array<{ id: string, timestamp: string, event_type: string }> = []
  for (const size of [400, 400, 200]) {
    const events = Array.from({ length: size }, (_, i) =>
      smallEvent({ event_type: `Type${(originals.length + i) % TYPES}`, description: `original ${originals.length + i}` })
    )
    const created = await submit(app, writer, events)
    created.forEach((item, i) => originals.push({ ...item, event_type: (events[i] as { event_type: string }).event_type }))
  }
  // another tenant's events, received between the originals and the arrivals: none may ever appear
  await submit(app, writerB, Array.from({ length: 20 }, () => smallEvent({})))
  const batchTimes = [...new Set(originals.map((o) => o.timestamp))]
  t.equal(originals.length, ORIGINALS)
  t.equal(batchTimes.length, 3, 'each batch shares one timestamp: only ids order the events inside it')

  const page = async (url: string, headers = reader): Promise<Page> => {
    const res = await app.inject({ method: 'GET', url, headers })
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    return res.json()
  }

  /**
   * Follows next_cursor to the end. With a source of new events, an insert is in flight alongside every
   * page request, and the previous one has been acknowledged before the next page is asked for.
   */
  async function walk (query: string, arrivals?: ReturnType<typeof newEventSource>): Promise<Page[]> {
    const pages: Page[] = []
    let cursor: string | null = null
    let inserting: Promise<void> | undefined
    do {
      await inserting
      inserting = arrivals?.start()
      const next: Page = await page(`/events?${query}${cursor === null ? '' : `&cursor=${cursor}`}`)
      pages.push(next)
      cursor = next.next_cursor
    } while (cursor !== null)
    await inserting
    return pages
  }

  /** What every walk must satisfy: full pages but the last, strict order, no repeats, no foreign events. */
  function checkWalk (t: Test, pages: Page[], order: 'asc' | 'desc', limit: number): Item[] {
    const items = pages.flatMap((p) => p.items)
    t.ok(
      pages.slice(0, -1).every((p) => p.items.length === limit && p.next_cursor !== null),
      `every page but the last holds ${limit} events and a cursor`
    )
    t.ok((pages.at(-1) as Page).items.length <= limit, 'the last page holds no more than the limit')
    t.equal(new Set(items.map((item) => item.id)).size, items.length, 'no event is served twice')
    const sign = order === 'asc' ? 1 : -1
    const outOfOrder = items.findIndex((item, i) => i > 0 && sign * compareKeys(items[i - 1] as Item, item) >= 0)
    t.equal(outOfOrder, -1, `strictly ${order} by (timestamp, id) across page boundaries`)
    return items
  }

  await t.test(`walking every page of ${ORIGINALS} events (limit 40), desc and asc at once, while new events keep arriving`, async (t) => {
    const arrivals = newEventSource(app, writer)
    // both walks at once, each with inserts running alongside its pages
    const [descPages, ascPages] = await Promise.all([walk('limit=40', arrivals), walk('limit=40&order=asc', arrivals)])
    t.equal(
      arrivals.requests,
      descPages.length + ascPages.length,
      `${arrivals.ids.length} new events arrived in ${arrivals.requests} requests, one alongside each page`
    )
    const originalIds = new Set(originals.map((o) => o.id))
    const arrivedIds = new Set(arrivals.ids)

    for (const [order, pages] of [['desc', descPages], ['asc', ascPages]] as const) {
      const items = checkWalk(t, pages, order, 40)
      const served = items.map((item) => item.id)
      const originalsServed = served.filter((id) => originalIds.has(id))
      t.equal(originalsServed.length, ORIGINALS, `${order}: ${ORIGINALS} originals served`)
      t.equal(new Set(originalsServed).size, ORIGINALS, `${order}: each original exactly once`)
      t.same(
        served.filter((id) => !originalIds.has(id) && !arrivedIds.has(id)),
        [],
        `${order}: nothing but these events (no other tenant's)`
      )
      t.comment(
        `${order}: ${pages.length} pages, ${served.length - ORIGINALS} of the ${arrivals.ids.length} new events served along the way`
      )
      if (order === 'asc') {
        // the new events were received after every original: in ascending order they can only come after them
        t.ok(served.slice(0, ORIGINALS).every((id) => originalIds.has(id)), 'asc: the originals come first, new events only after them')
      }
    }
  })

  await t.test('filters and a time range hold on every page', async (t) => {
    // only the second batch (timeStart inclusive, timeEnd exclusive), one type in five: 80 events
    const query = `event_type=Type3&timeStart=${batchTimes[1] as string}&timeEnd=${batchTimes[2] as string}&order=asc&limit=20`
    const pages = await walk(query)
    const items = checkWalk(t, pages, 'asc', 20)
    const expected = originals.filter((o) => o.event_type === 'Type3' && o.timestamp === batchTimes[1])
    t.equal(expected.length, 80)
    t.same(items.map((item) => item.id), expected.map((o) => o.id), 'exactly the matching events, in id order within the shared timestamp')
    t.equal(pages.length, 4)
  })

  await t.test('an exact multiple of the limit ends without an empty page', async (t) => {
    const pages = await walk(`event_type=Type1&timeEnd=${batchTimes[2] as string}&limit=40`)
    t.same(pages.map((p) => p.items.length), [40, 40, 40, 40])
    t.equal((pages.at(-1) as Page).next_cursor, null)
  })

  await t.test('cursors: a changed limit continues, anything else changed or damaged is a 400', async (t) => {
    const base = `/events?event_type=Type2&timeEnd=${batchTimes[2] as string}`
    const first = await page(`${base}&limit=10`)
    const cursor = first.next_cursor as string
    t.type(cursor, 'string')

    const again = await page(`${base}&limit=10&cursor=${cursor}`)
    const wider = await page(`${base}&limit=25&cursor=${cursor}`)
    t.same(wider.items.slice(0, 10), again.items, 'the same position whatever the page size')
    t.ok(compareKeys(first.items.at(-1) as Item, wider.items[0] as Item) > 0, 'continues right after the last event served (desc)')

    const middle = Math.floor(cursor.length / 2)
    const flipped = cursor.slice(0, middle) + (cursor[middle] === 'A' ? 'B' : 'A') + cursor.slice(middle + 1)
    const damaged: Array<[string, string]> = [
      ['forged', Buffer.from(JSON.stringify({ t: 0, i: '000000000000000000000000', q: 'x' })).toString('base64url')],
      ['random bytes', Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 37) % 256)).toString('base64url')],
      ['garbled', flipped],
      ['truncated', cursor.slice(0, -4)],
      ['cut to a stub', cursor.slice(0, 8)],
      ['not base64', '!!!*()'],
      ['with a NUL', '%00' + cursor]
    ]
    for (const [what, bad] of damaged) {
      const res = await app.inject({ method: 'GET', url: `${base}&limit=10&cursor=${bad}`, headers: reader })
      t.equal(res.statusCode, 400, `${what} cursor → 400`)
      t.match(res.json().message, /cursor is not valid/, what)
    }
    const tooLong = await app.inject({ method: 'GET', url: `${base}&cursor=${'A'.repeat(1025)}`, headers: reader })
    t.equal(tooLong.statusCode, 400)
    t.match(tooLong.json().message, /cursor must NOT have more than 1024 characters/)

    const otherQueries: Array<[string, string, Record<string, string>]> = [
      ['other filter value', `/events?event_type=Type4&timeEnd=${batchTimes[2] as string}`, reader],
      ['a filter added', `${base}&username=john_mayor`, reader],
      ['a filter dropped', '/events?event_type=Type2', reader],
      ['other order', `${base}&order=asc`, reader],
      ['other tenant', base, readerB]
    ]
    for (const [what, url, headers] of otherQueries) {
      const res = await app.inject({ method: 'GET', url: `${url}&cursor=${cursor}`, headers })
      t.equal(res.statusCode, 400, `${what} → 400`)
      t.match(res.json().message, /cursor belongs to another query/, what)
    }
  })

  await t.test('a query over its time limit is a 503 QUERY_TIMEOUT, not a hung request', async (t) => {
    // the same database, with a 1 ms server-side limit: FerretDB honours maxTimeMS (error 50, MaxTimeMSExpired)
    const slow = await build(t, { config: { QUERY_MAX_TIME_MS: 1 } })
    const res = await slow.inject({ method: 'GET', url: '/events?limit=1', headers: reader })
    t.equal(res.statusCode, 503)
    t.equal(res.headers['retry-after'], '1')
    t.match(res.json(), {
      statusCode: 503,
      code: 'QUERY_TIMEOUT',
      error: 'Service Unavailable',
      // on FerretDB the answer says why (the log's size) and where to go (test/plugins/embedded-limit.test.ts)
      message:
        slow.databaseKind === 'ferretdb' ? /FerretDB .*MongoDB/ : 'The query exceeded its time limit; narrow the filters or the time range',
      requestId: String
    })
    t.notMatch(res.body, /exceeded time limit|MaxTimeMS|Executor/i, 'no database message leaks')
  })
})
