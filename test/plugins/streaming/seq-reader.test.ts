import t from 'tap'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'
import { readStoredAfter } from '../../../src/plugins/app/streaming/seq-reader.js'
import { toEventFilter } from '../../../src/plugins/app/events/filter.js'

const after = (filters: Record<string, unknown>, position: number, settledThrough: number) => ({
  ...toEventFilter('tail', filters),
  afterSeq: position,
  settledThrough
})

/**
 * Followers woken by the same rise of the settled mark ask the same read at once: they share one read of
 * the log (a scan on FerretDB) instead of one each. W7 found seven followers at the tail making the
 * database spend ten times as much CPU per ingested event, one scan per follower per rise.
 */
t.test('the same read asked at once is made once, and each asker gets its answer; a different one is its own', async (t) => {
  const app = await build(t, { config: { SEQUENCE_FOLD_MS: 20 } })
  const writer = await userWithToken(app, { username: 'tail-writer', roles: ['writer'], tenant: 'tail' })
  const res = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(writer),
    payload: { events: Array.from({ length: 6 }, (_, i) => sampleEvent({ event_type: i % 2 === 0 ? 'Even' : 'Odd' })) }
  })
  t.equal(res.statusCode, 200)
  await app.sequencer.flush()
  const store = app.eventStore
  let reads = 0
  const findPage = store.findPage.bind(store)
  store.findPage = async (...args) => { reads++; return await findPage(...args) }

  const followers = await Promise.all(Array.from({ length: 5 }, async () => await readStoredAfter(store, after({}, 0, 6), 100)))
  t.equal(reads, 1, 'five followers at the same position: one read')
  for (const answer of followers) t.same([answer.events.map((event) => event.seq), answer.reached], [[1, 2, 3, 4, 5, 6], 6])

  const [even, page] = await Promise.all([
    readStoredAfter(store, after({ event_type: ['Even'] }, 0, 6), 100),
    readStoredAfter(store, after({}, 0, 6), 2)
  ])
  t.equal(reads, 3, 'another filter and another page size are reads of their own')
  t.same(even.events.map((event) => event.seq), [1, 3, 5])
  t.same([page.events.map((event) => event.seq), page.reached], [[1, 2], 2])

  await readStoredAfter(store, after({}, 0, 6), 100)
  t.equal(reads, 4, 'a read asked after the first has answered is made again: nothing is kept')
})
