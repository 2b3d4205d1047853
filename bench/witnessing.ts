import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { createUser, prepareDatabase } from './database.js'
import { EventSequence, runMarker } from './events.js'
import { runLoad, steadyRate, warmUpAndSize, type LoadPlan } from './load.js'
import { startService, type RunningService } from './service.js'
import { mintToken, type BenchIdentity } from './token.js'
import { startCpuMeter } from './cpu.js'
import { percentile } from './stats.js'
import { startLitewitness } from '../scripts/litewitness.js'
import { logOrigin } from '../src/verifier/tlog-checkpoint.js'

/**
 * `npx tsx scripts/with-database.ts npx tsx bench/witnessing.ts`: what witnessing costs W1 (issue #27; budget: at
 * most 5%). Two services side by side on one database server, each with its own database and the same signing key:
 * one sends every checkpoint to a real litewitness (scripts/litewitness.sh; WITNESSES, plain http to 127.0.0.1),
 * the other has no witness. W1's single-event POST /events at 50 connections against each in turn, in alternating
 * order; the ratio is the median of the per-repetition ratios of events/s. Service CPU per event from /proc. At the
 * end the witnessed service's newest checkpoint must be served as witnessed, or the run proved nothing.
 */
const REPETITIONS = Number(process.env.REPETITIONS ?? 3)
const CONNECTIONS = 50
const WARMUP_MS = 3000
const MEASURE_MS = 8000
const SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789'
const ORIGIN = 'bench.audit-log.test'

const median = (values: number[]): number => percentile(values, 50)

const url = process.env.MONGODB_URL
if (url === undefined || url === '') throw new Error('run it under scripts/with-database.ts (or with MONGODB_URL set)')
const work = mkdtempSync(join(tmpdir(), 'bench-witnessing-'))
const keyFile = join(work, 'signing-key.pem')
const { privateKey } = generateKeyPairSync('ed25519')
writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 })
const rawPublicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32)

const identity: BenchIdentity = { username: 'bench-writer', tenant: 'bench-witness', roles: ['writer', 'reader'] }
const witness = await startLitewitness('bench.witness/w1')
witness.addLog(logOrigin(ORIGIN, identity.tenant), rawPublicKey)

const client = new MongoClient(url)
const services: Record<'on' | 'off', RunningService> = {} as Record<'on' | 'off', RunningService>
const tokens: Record<'on' | 'off', string> = { on: '', off: '' }
try {
  // START=off-first starts the unwitnessed service first: a check that the order of starting is not what differs
  for (const mode of process.env.START === 'off-first' ? ['off', 'on'] as const : ['on', 'off'] as const) {
    const db = await prepareDatabase(client, `witnessing_${mode}_${process.pid}`)
    await createUser(db, identity)
    services[mode] = await startService({
      name: `witnessing-${mode}`,
      databaseUrl: url,
      database: db.databaseName,
      secret: SECRET,
      logDir: work,
      env: {
        SIGNING_KEY_FILE: keyFile,
        SIGNING_STATE_DIR: join(work, `state-${mode}`),
        AUDIT_LOG_ORIGIN: ORIGIN,
        ...(mode === 'on' ? { WITNESSES: JSON.stringify([{ url: witness.url, vkey: witness.vkey }]), WITNESS_ALLOW_HOSTS: '127.0.0.1' } : {})
      }
    })
    tokens[mode] = await mintToken(url, SECRET, identity)
  }

  const plan = (mode: 'on' | 'off', sequence: EventSequence): LoadPlan => ({
    url: services[mode].url,
    token: tokens[mode],
    connections: CONNECTIONS,
    requests: [{ method: 'POST', path: '/events', body: () => JSON.stringify(sequence.next()) }]
  })
  const measure = async (mode: 'on' | 'off') => {
    const { amount } = await warmUpAndSize(plan(mode, new EventSequence(runMarker(`${mode}-warm`))), WARMUP_MS, MEASURE_MS, 5, 100_000, 120_000)
    const meter = startCpuMeter({ service: services[mode].pid })
    const run = await runLoad(plan(mode, new EventSequence(runMarker(mode))), { amount, guardMs: 120_000 })
    const created = run.byStatus['201'] ?? 0
    if (run.failed > 0) throw new Error(`${mode}: ${run.failed} requests not answered 201 (${JSON.stringify(run.byStatus)})`)
    return { rate: steadyRate(run, 201), serviceMs: meter.stop(created).service ?? Number.NaN }
  }

  const rows: Array<{ on: number, off: number, ratio: number, onCpu: number, offCpu: number }> = []
  process.stdout.write(`load average at start ${loadavg().map((load) => load.toFixed(1)).join(' ')}\n`)
  for (let rep = 0; rep < REPETITIONS; rep++) {
    const order = rep % 2 === 0 ? ['on', 'off'] as const : ['off', 'on'] as const
    const result: Partial<Record<'on' | 'off', { rate: number, serviceMs: number }>> = {}
    for (const mode of order) result[mode] = await measure(mode)
    const on = result.on as { rate: number, serviceMs: number }
    const off = result.off as { rate: number, serviceMs: number }
    rows.push({ on: on.rate, off: off.rate, ratio: on.rate / off.rate, onCpu: on.serviceMs, offCpu: off.serviceMs })
    process.stdout.write(`  repetition ${rep + 1}: witnessed ${Math.round(on.rate)}/s, no witness ${Math.round(off.rate)}/s, ratio ${(on.rate / off.rate).toFixed(2)}\n`)
  }

  // the run counts only if the witness really cosigned the checkpoints of the log it was measured on
  let witnessed: { tree_size: number, witnessed?: boolean } | undefined
  for (const deadline = Date.now() + 30_000; witnessed?.witnessed !== true && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    const res = await fetch(`${services.on.url}/integrity/checkpoint`, { headers: { authorization: `Bearer ${tokens.on}` } })
    witnessed = (await res.json()) as { tree_size: number, witnessed?: boolean }
  }
  if (witnessed?.witnessed !== true) throw new Error('the witnessed service\'s newest checkpoint was not witnessed: the run measured nothing')
  const list = (pick: (row: typeof rows[number]) => number, digits = 0) => rows.map((row) => pick(row).toFixed(digits)).join(', ')
  process.stdout.write([
    `load average at end ${loadavg().map((load) => load.toFixed(1)).join(' ')}`,
    `the witnessed log's newest checkpoint, tree size ${witnessed.tree_size}, is cosigned by litewitness`,
    '',
    `| W1, ${CONNECTIONS} connections | witnessed (litewitness) | no witness | ratio (per repetition) | service CPU ms/event on / off |`,
    '|---|---:|---:|---:|---:|',
    `| events/s, median (per repetition) | ${Math.round(median(rows.map((row) => row.on)))} (${list((row) => row.on)}) | ` +
      `${Math.round(median(rows.map((row) => row.off)))} (${list((row) => row.off)}) | ` +
      `**${median(rows.map((row) => row.ratio)).toFixed(2)}×** (${list((row) => row.ratio, 2)}) | ` +
      `${median(rows.map((row) => row.onCpu)).toFixed(2)} / ${median(rows.map((row) => row.offCpu)).toFixed(2)} |`,
    ''
  ].join('\n'))
} finally {
  for (const service of Object.values(services)) await service.stop()
  for (const mode of ['on', 'off']) await client.db(`witnessing_${mode}_${process.pid}`).dropDatabase().catch(() => {})
  await client.close()
  witness.stop()
  rmSync(work, { recursive: true, force: true })
}
