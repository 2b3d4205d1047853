import t from 'tap'
import {
  assertGaplessSequence, compareWithDatabase, createWriterToken, eventIds, figuresLine, mixedClients, runClients, runDatabaseName,
  sequenceFigures, sequenceLine, startDatabase, startService, stopService, tally, type Ledger
} from './harness.js'

/**
 * Two service processes on one database, ingesting for the same tenant at once, single events and
 * batches, with a share of event_ids sent to both (a client retrying on the other replica). Every event
 * is stored once, seqs are never shared, and the sequence runs 1..N over events and recorded holes only.
 * Then a reader on one replica reads the whole log by afterSeq, exactly once, in seq order.
 */
const EVENTS_PER_REPLICA = 3000
const SHARED = 500

t.test('two replicas sequence one tenant without sharing a seq or leaving an unrecorded hole', async (t) => {
  const db = await startDatabase()
  t.teardown(() => db.stop())
  const database = runDatabaseName('two_replicas')
  const token = await createWriterToken(db.url, database)
  const readerToken = await createWriterToken(db.url, database, ['reader'], 'fault-reader')
  const env = { MONGODB_URL: db.url, MONGODB_DATABASE: database, QUERY_MAX_TIME_MS: '60000', SEQUENCE_FOLD_MS: '200' }
  const [a, b] = await Promise.all([startService(env), startService(env)])
  t.teardown(() => stopService(a))
  t.teardown(() => stopService(b))

  // the shared ids go to both replicas, in the same order, so they race for the same event_ids
  const shared = eventIds('shared', SHARED)
  const run = async (baseUrl: string, own: string): Promise<Ledger> => await runClients({
    baseUrl, token, eventIds: [...shared, ...eventIds(own, EVENTS_PER_REPLICA)], clients: mixedClients(8, 2, 50), retryDelayMs: 50
  })
  const [ledgerA, ledgerB] = await Promise.all([run(a.baseUrl, 'replica-a'), run(b.baseUrl, 'replica-b')])
  const ledger: Ledger = {
    attempts: [...ledgerA.attempts, ...ledgerB.attempts],
    acknowledged: new Map([...ledgerA.acknowledged, ...ledgerB.acknowledged])
  }
  t.comment(`${ledger.attempts.length} attempts ${JSON.stringify(tally(ledger.attempts))}`)

  const figures = await compareWithDatabase(db.url, database, ledger)
  t.comment(figuresLine(figures))
  t.equal(figures.acknowledged, 2 * EVENTS_PER_REPLICA + SHARED, 'every event acknowledged')
  t.equal(figures.lost, 0, 'none lost')
  t.equal(figures.duplicated, 0, 'none stored twice, although both replicas got the shared ones')

  const sequence = await sequenceFigures(db.url, database)
  t.comment(sequenceLine(sequence))
  assertGaplessSequence(t, sequence, figures.stored)

  // the whole log through replica B by afterSeq: each seq once, in order, nothing skipped
  const seen: number[] = []
  let after = 0
  for (;;) {
    const response = await fetch(`${b.baseUrl}/events?afterSeq=${after}&order=asc&limit=1000`, {
      headers: { authorization: `Bearer ${readerToken}` }
    })
    const page = await response.json() as { items: Array<{ seq: number }> }
    if (page.items.length === 0) break
    seen.push(...page.items.map((item) => item.seq))
    after = seen[seen.length - 1] as number
  }
  t.equal(seen.length, figures.stored, 'afterSeq reads every stored event')
  t.ok(seen.every((seq, i) => i === 0 || seq > (seen[i - 1] as number)), 'in increasing seq order, none twice')
  if (!t.passing()) t.comment(a.outputTail(), b.outputTail())
})
