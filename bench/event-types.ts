import { mkdtempSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { createUser, prepareDatabase } from './database.js'
import { EventSequence, runMarker } from './events.js'
import { runLoad, steadyRate, warmUpAndSize, type LoadPlan } from './load.js'
import { startService } from './service.js'
import { mintToken, type BenchIdentity } from './token.js'
import { startCpuMeter } from './cpu.js'
import { percentile } from './stats.js'
import { TenantSchemaCompiler } from '../src/plugins/app/event-types/schema-compiler.js'

/**
 * `npx tsx scripts/with-database.ts npx tsx bench/event-types.ts`: what validating every event against its type's
 * schema costs W1 (issue #31). One service; W1's single-event POST /events at 50 connections, the same events
 * (the brief's sample with account_number, email and plan in the details) sent to two tenants side by side: one
 * with a schema registered for the type (every event validated, and stamped with schema_version), one with no
 * registry at all (W1 as it was). Each repetition runs both, in alternating order; the ratio is the median of the
 * per-repetition ratios of events/s. CPU of the service per event, from /proc. And, in this process, the CPU of the
 * compiled validator alone per event (process.cpuUsage over 200,000 events' details), which the shared machine's
 * noise does not swamp.
 */
const REPETITIONS = Number(process.env.REPETITIONS ?? 3)
const CONNECTIONS = 50
const WARMUP_MS = 3000
const MEASURE_MS = 8000
const EVENT_TYPE = 'BenchAccountCreated'
const SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789'
const SCHEMA = {
  type: 'object',
  properties: {
    account_number: { type: 'string', pattern: '^[0-9]{6}$' },
    email: { type: 'string', format: 'email', maxLength: 254 },
    plan: { type: 'string', enum: ['basic', 'pro'] }
  },
  required: ['account_number', 'email', 'plan'],
  additionalProperties: false
}

const median = (values: number[]): number => percentile(values, 50)

const url = process.env.MONGODB_URL
if (url === undefined || url === '') throw new Error('run it under scripts/with-database.ts (or with MONGODB_URL set)')
const client = new MongoClient(url)
const db = await prepareDatabase(client, `event_types_${process.pid}`)
const typed: BenchIdentity = { username: 'bench-typed', tenant: 'bench-typed', roles: ['admin', 'writer'] }
const plain: BenchIdentity = { username: 'bench-plain', tenant: 'bench-plain', roles: ['writer'] }
for (const user of [typed, plain]) await createUser(db, user)
const service = await startService({
  name: 'event-types',
  databaseUrl: url,
  database: db.databaseName,
  secret: SECRET,
  logDir: mkdtempSync(join(tmpdir(), 'bench-event-types-'))
})
const tokens = { typed: await mintToken(url, SECRET, typed), plain: await mintToken(url, SECRET, plain) }

try {
  const put = await fetch(`${service.url}/tenant/event-types/${EVENT_TYPE}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${tokens.typed}`, 'content-type': 'application/json' },
    body: JSON.stringify({ schema: SCHEMA, description: 'A customer account was created', example: { account_number: '100001', email: 'a@example.com', plan: 'pro' } })
  })
  if (put.status !== 201) throw new Error(`registering the schema answered ${put.status}: ${await put.text()}`)

  const plan = (token: string, sequence: EventSequence): LoadPlan => ({
    url: service.url,
    token,
    connections: CONNECTIONS,
    requests: [{ method: 'POST', path: '/events', body: () => JSON.stringify({ ...sequence.next(), event_type: EVENT_TYPE }) }]
  })
  const measure = async (mode: 'typed' | 'plain') => {
    const { amount } = await warmUpAndSize(plan(tokens[mode], new EventSequence(runMarker(`${mode}-warm`))), WARMUP_MS, MEASURE_MS, 5, 100_000, 120_000)
    const meter = startCpuMeter({ service: service.pid })
    const run = await runLoad(plan(tokens[mode], new EventSequence(runMarker(mode))), { amount, guardMs: 120_000 })
    const created = run.byStatus['201'] ?? 0
    if (run.failed > 0) throw new Error(`${mode}: ${run.failed} requests not answered 201 (${JSON.stringify(run.byStatus)})`)
    return { rate: steadyRate(run, 201), serviceMs: meter.stop(created).service ?? Number.NaN }
  }

  const validate = new TenantSchemaCompiler().compile(SCHEMA)
  const details = new EventSequence(runMarker('micro')).nextMany(1000).map((event) => event.event_specificdetails)
  const before = process.cpuUsage()
  for (let round = 0; round < 200; round++) for (const item of details) if (!validate(item)) throw new Error('a sample event fails the schema')
  const used = process.cpuUsage(before)
  const validatorMicros = (used.user + used.system) / 200_000

  const rows: Array<{ typed: number, plain: number, ratio: number, typedCpu: number, plainCpu: number }> = []
  process.stdout.write(`load average at start ${loadavg().map((load) => load.toFixed(1)).join(' ')}\n`)
  for (let rep = 0; rep < REPETITIONS; rep++) {
    const order = rep % 2 === 0 ? ['typed', 'plain'] as const : ['plain', 'typed'] as const
    const result: Record<string, { rate: number, serviceMs: number }> = {}
    for (const mode of order) result[mode] = await measure(mode)
    const [t, p] = [result.typed as { rate: number, serviceMs: number }, result.plain as { rate: number, serviceMs: number }]
    rows.push({ typed: t.rate, plain: p.rate, ratio: t.rate / p.rate, typedCpu: t.serviceMs, plainCpu: p.serviceMs })
    process.stdout.write(`  repetition ${rep + 1}: validated ${Math.round(t.rate)}/s, plain ${Math.round(p.rate)}/s, ratio ${(t.rate / p.rate).toFixed(2)}\n`)
  }
  const list = (pick: (row: typeof rows[number]) => number, digits = 0) => rows.map((row) => pick(row).toFixed(digits)).join(', ')
  process.stdout.write([
    `load average at end ${loadavg().map((load) => load.toFixed(1)).join(' ')}`,
    '',
    `| W1, ${CONNECTIONS} connections | every event validated | no registry | ratio (per repetition) | service CPU ms/event validated / plain |`,
    '|---|---:|---:|---:|---:|',
    `| events/s, median (per repetition) | ${Math.round(median(rows.map((row) => row.typed)))} (${list((row) => row.typed)}) | ` +
      `${Math.round(median(rows.map((row) => row.plain)))} (${list((row) => row.plain)}) | ` +
      `**${median(rows.map((row) => row.ratio)).toFixed(2)}×** (${list((row) => row.ratio, 2)}) | ` +
      `${median(rows.map((row) => row.typedCpu)).toFixed(2)} / ${median(rows.map((row) => row.plainCpu)).toFixed(2)} |`,
    '',
    `The compiled validator alone: ${validatorMicros.toFixed(2)} µs of CPU per event's details.`,
    ''
  ].join('\n'))
} finally {
  await service.stop()
  await db.dropDatabase()
  await client.close()
}
