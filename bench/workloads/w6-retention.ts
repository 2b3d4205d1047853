import type { Db } from 'mongodb'
import { BENCH_PRINCIPAL, openService, type BenchContext } from '../context.js'
import { EventSequence, runMarker } from '../events.js'
import { describeFailures, runLoad, steadyRate, warmUpAndSize, type LoadPlan } from '../load.js'
import { spread } from '../stats.js'
import { buildApp } from '../../src/app.js'
import { loadConfig, toAppConfig } from '../../src/config.js'
import type { EventInput } from '../../src/schemas/event.js'
import { retentionChanged } from '../../src/plugins/app/retention/policy-entries.js'
import { recordEntry } from '../../src/plugins/app/audit/audit-trail.js'
import { describeCheck } from '../results.js'
import { BENCH_DATA_DIR } from '../service.js'

/**
 * W6: single-event POST /events on 50 connections (group commit on) while the retention sweeper deletes an expired
 * prefix of the same tenant, against the same load with the sweeper off. Each run gets a fresh database seeded
 * with SEED events received two days back (see seedExpired), and, with the sweeper, a 1-day policy for the tenant;
 * the sweeper then starts a round every second (batches of RETENTION_BATCH_SIZE, RETENTION_BATCH_PAUSE_MS apart).
 * The target: ingest with the sweeper within 10% of without. The deleted count shows the sweeper did work
 * meanwhile.
 */
const CONNECTIONS = 50
/**
 * Measured runs last at least this long: the sweeper works in batches followed by a pause 19 times as long,
 * about 20–40 s from one batch to the next here, and a shorter window sees one batch or none, so it measures
 * where the batch fell rather than what the sweeper costs over time.
 */
const SWEEP_CYCLE_SECONDS = 45
const MAX_REQUESTS = 200_000
const SEED = 20_000
const SEED_BATCH = 1000
const MODES = [
  { key: 'off', label: 'sweeper off', env: { RETENTION_SWEEP_INTERVAL_MS: '0' } },
  { key: 'on', label: 'sweeper deleting', env: { RETENTION_SWEEP_INTERVAL_MS: '1000' } }
] as const

export async function runRetention (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  const rates: Record<string, number[]> = { off: [], on: [] }
  for (let rep = 0; rep < options.repetitions; rep++) {
    for (const mode of MODES) {
      const { service, db } = await openService(context, `w6-${mode.key}`, mode.env)
      try {
        await seedExpired(context, db, new EventSequence(runMarker(`w6-${mode.key}-seed`)), mode.key === 'on' ? 1 : undefined)
        const before = await countOld(db)
        const warm = new EventSequence(runMarker(`w6-${mode.key}-warm`))
        const { amount } = await warmUpAndSize(
          plan(service.url, context.token, warm),
          options.warmupSeconds * 1000,
          Math.max(options.measureSeconds, SWEEP_CYCLE_SECONDS) * 1000,
          options.minPerConnection,
          MAX_REQUESTS,
          options.guardSeconds * 1000
        )
        const sequence = new EventSequence(runMarker(`w6-${mode.key}`))
        const run = await runLoad(plan(service.url, context.token, sequence), { amount, guardMs: options.guardSeconds * 1000 })
        const deleted = before - await countOld(db)
        const created = run.byStatus['201'] ?? 0
        const check = await results.checkStored(db, BENCH_PRINCIPAL.tenant, sequence.marker, run.acknowledgedIds, run.maxUnanswered)
        const rate = steadyRate(run, 201)
        rates[mode.key]?.push(rate)
        log(
          `  W6 ${mode.label}: ${Math.round(rate)} events/s, errors ${run.failed}${describeFailures(run)}, ${deleted} expired events deleted during warm-up and run (${created} created, ${describeCheck(check)})`
        )
      } finally {
        await service.stop()
      }
    }
  }
  for (const mode of MODES) {
    results.add({
      id: `W6.${mode.key}.rate`,
      workload: 'W6',
      case: `POST /events, ${CONNECTIONS} conn., ${mode.label}`,
      metric: 'events/s',
      service: spread(rates[mode.key] ?? [])
    })
  }
  const off = spread(rates.off ?? []).median
  const on = spread(rates.on ?? []).median
  results.notes.push(
    `W6: ingest with the retention sweeper deleting runs at ${((100 * on) / off).toFixed(0)}% of the rate without it (target: at least 90%).`
  )
}

/**
 * The expired prefix, written through the service's own write path in this process (an app on the same
 * database, beside the running service: two replicas, as the sequencer allows), with a receipt time two
 * days back: receipt times cannot be sent over HTTP, and backdating afterwards is an update per document,
 * which on FerretDB 1.24 scans the collection for each (and a changed timestamp no longer matches its leaf,
 * so the sweeper would refuse it). With `policyDays`, then the tenant's policy, as PUT /tenant/retention
 * sets it: its entry in the log first, then the document naming it (a document alone is ignored).
 */
async function seedExpired (context: BenchContext, db: Db, sequence: EventSequence, policyDays?: number): Promise<void> {
  const config = loadConfig({
    // the service that follows signs with the same key (bench/service.ts)
    DATA_DIR: BENCH_DATA_DIR,
    MONGODB_URL: context.database.url,
    MONGODB_DATABASE: db.databaseName,
    JWT_SECRET: context.secret,
    LOG_LEVEL: 'silent',
    RETENTION_SWEEP_INTERVAL_MS: 0,
    AUDIT_ACCESS: false
  })
  const app = await buildApp({ config: toAppConfig(config, { url: context.database.url, secret: context.secret }) })
  try {
    await app.ready()
    const receivedAt = new Date(Date.now() - 2 * 86400_000)
    for (let sent = 0; sent < SEED; sent += SEED_BATCH) {
      const inputs = Array.from({ length: SEED_BATCH }, () => sequence.next() as unknown as EventInput)
      const outcomes = await app.eventWriter.write(BENCH_PRINCIPAL, inputs, receivedAt)
      if (outcomes.some((outcome) => outcome.status !== 'created')) throw new Error('seeding W6 failed: an event was not stored')
    }
    if (policyDays !== undefined) {
      const entry = retentionChanged('bench', policyDays, 0, false, false)
      const seq = await recordEntry(app.eventWriter, BENCH_PRINCIPAL, { ip: '127.0.0.1', location: 'bench' }, entry)
      await app.tenantPolicies.setRetention(BENCH_PRINCIPAL.tenant, policyDays, 'bench', { seq })
    }
  } finally {
    await app.close()
  }
}

async function countOld (db: Db): Promise<number> {
  return await db
    .collection('events')
    .countDocuments({ tenant: BENCH_PRINCIPAL.tenant, timestamp: { $lt: new Date(Date.now() - 86400_000) } })
}

function plan (url: string, token: string, sequence: EventSequence): LoadPlan {
  return {
    url,
    token,
    connections: CONNECTIONS,
    requests: [{ method: 'POST', path: '/events', body: () => JSON.stringify(sequence.next()) }]
  }
}
