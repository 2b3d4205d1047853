import { randomBytes } from 'node:crypto'
import type { Db } from 'mongodb'
import { placeInLog, toStoredEvent } from '../src/plugins/app/events/record.js'
import { ensureIndexes } from '../src/plugins/app/storage/indexes.js'
import { SEQ_INDEX } from '../src/plugins/app/events/event-store.js'
import { BENCH_PRINCIPAL } from './context.js'
import { processCpuMs } from './cpu.js'
import { prepareDatabase, startDatabase } from './database.js'
import { EventSequence, runMarker } from './events.js'
import { describeMachine } from './machine.js'
import { percentile } from './stats.js'

/**
 * `npx tsx bench/bulk-write-cost.ts [--calls=300] [--repetitions=3]`: what the database spends on one bulk write of
 * the service, split into its two commands: the claim of the seqs (one small insert into sequence_claims, carrying
 * the previous bulk write's settlement and leaves) and the insert of the events (stamped with seq, salt and leaf
 * hash). One write at a time, as a tenant's bulk writes go at W1; the database's CPU from /proc per call, in ms.
 * The baseline of the same run is the events' insert alone: the ratio says what folding the claim into it (issue
 * #32) could save the database per bulk write, at 25 events (W1 at 50 connections) and at 100 (W1 at 200).
 */
const args = process.argv.slice(2)
const option = (name: string, fallback: number) =>
  Number(args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback)
const CALLS = option('calls', 300)
const REPETITIONS = option('repetitions', 3)
const SIZES = [25, 100]

/** Writes bulk writes as the service's writer does, one tenant's seqs after another's, without the service. */
class BulkWriter {
  private next = 1
  private readonly sequence = new EventSequence(runMarker('bulk-write-cost'))
  constructor (private readonly db: Db) {}

  async write (size: number, withClaim: boolean, withEvents: boolean): Promise<void> {
    const first = this.next
    this.next += size
    if (withClaim) {
      // the previous bulk write's settlement rides in this claim, with its leaves: 32 bytes per seq
      const settles = [{ first: first - size, count: size, holes: [], leaves: randomBytes(32 * size) }]
      const claim = { _id: `${BENCH_PRINCIPAL.tenant}:${first}`, tenant: BENCH_PRINCIPAL.tenant, first, count: size, claimed_at: new Date(), settles }
      await this.db.collection<typeof claim>('sequence_claims').insertOne(claim)
    }
    if (!withEvents) return
    const receivedAt = new Date()
    const docs = this.sequence.nextMany(size).map((event, i) => {
      const doc = toStoredEvent(event, BENCH_PRINCIPAL, receivedAt)
      placeInLog(doc, first + i)
      return doc
    })
    await this.db.collection('events').insertMany(docs, { ordered: false })
  }
}

const log = (line: string) => process.stderr.write(`${line}\n`)
const machine = describeMachine()
const database = await startDatabase(log)
const rows: string[] = []
try {
  if (database.pid === undefined) throw new Error('the database CPU is read from /proc: run it against the embedded FerretDB')
  const databasePid = database.pid
  const db = await prepareDatabase(database.client, 'bulk_write_cost')
  await ensureIndexes(db.collection('events'), [SEQ_INDEX])
  await ensureIndexes(db.collection('sequence_claims'), [{ key: { tenant: 1, first: -1 }, name: 'tenant_first' }])
  const writer = new BulkWriter(db)
  for (const size of SIZES) {
    const perCall: Record<'events' | 'claim+events' | 'claim', number[]> = { events: [], 'claim+events': [], claim: [] }
    for (let rep = 0; rep < REPETITIONS; rep++) {
      // alternated, so that a machine that slows down during the run does not favour one case
      for (const name of ['events', 'claim+events', 'claim'] as const) {
        const before = processCpuMs(databasePid)
        for (let call = 0; call < CALLS; call++) await writer.write(size, name !== 'events', name !== 'claim')
        perCall[name].push((processCpuMs(databasePid) - before) / CALLS)
      }
    }
    const median = (values: number[]) => percentile(values, 50)
    const events = median(perCall.events)
    const both = median(perCall['claim+events'])
    const claim = median(perCall.claim)
    rows.push(`| ${size} | ${events.toFixed(2)} | ${claim.toFixed(2)} | ${both.toFixed(2)} | **${(both / events).toFixed(2)}×** | ` +
      `${(both / size).toFixed(3)} / ${(events / size).toFixed(3)} |`)
    log(`${size} events: events ${perCall.events.map((v) => v.toFixed(2)).join(' ')}; claim+events ` +
      `${perCall['claim+events'].map((v) => v.toFixed(2)).join(' ')}; claim ${perCall.claim.map((v) => v.toFixed(2)).join(' ')}`)
  }
} finally {
  await database.stop()
}
process.stdout.write([
  `Database CPU per bulk write, ${CALLS} calls × ${REPETITIONS} repetitions per case, medians; ${database.description}; ` +
    `load ${machine.loadAverageAtStart} at the start, ${describeMachine().loadAverageAtStart} at the end`,
  '',
  '| events per bulk write | events insert, ms | claim insert alone, ms | claim + events, ms | claim + events ÷ events | ms per event, with / without the claim |',
  '|---:|---:|---:|---:|---:|---:|',
  ...rows,
  ''
].join('\n'))
