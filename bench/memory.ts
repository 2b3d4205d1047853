import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { compileService } from './compile.js'
import { processCpuMs } from './cpu.js'
import { createUser, prepareDatabase, startDatabase } from './database.js'
import { EventSequence, runMarker } from './events.js'
import { runLoad, type LoadPlan } from './load.js'
import { describeMachine } from './machine.js'
import { PROJECT_ROOT, startService, stopAllServices, type RunningService } from './service.js'
import { percentile } from './stats.js'
import { BENCH_USER, mintToken } from './token.js'

/**
 * `tsx bench/memory.ts [requests] [--snapshots] [--tsx] [--server=dist/src/server.js] [--env=NAME=value,...]
 * [--node-args='--flag ...'] [--connections=200]`: what holds the service's RSS under W1 at 200 connections. Starts the service
 * (compiled, as `npm start` runs it, or the given build; with --tsx also under tsx, as the bench runs it without
 * --compiled), then reads its RSS from /proc and its own process.memoryUsage() (through bench/loop-delay-probe.mjs)
 * idle, during `requests` single-event POSTs and after, with the service's CPU per event. With --snapshots it writes
 * heap snapshots idle and mid-run into bench/results/heap/ (summarised by bench/heap-summary.ts). It also says the
 * database's CPU per event and the mean events per bulk write (from the service's auditlog_group_commit_batch_size).
 */
const args = process.argv.slice(2)
const requests = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 6000)
const snapshots = args.includes('--snapshots')
const nodeArgs = args.find((arg) => arg.startsWith('--node-args='))?.slice('--node-args='.length).split(' ').filter(Boolean) ?? []
const extraEnv = Object.fromEntries(
  (args.find((arg) => arg.startsWith('--env='))?.slice('--env='.length).split(',').filter(Boolean) ?? []).map((pair) => {
    const at = pair.indexOf('=')
    return [pair.slice(0, at), pair.slice(at + 1)]
  })
)
const CONNECTIONS = Number(args.find((arg) => arg.startsWith('--connections='))?.slice('--connections='.length) ?? 200)
const SAMPLE_MS = 100

const log = (line: string) => process.stderr.write(`${line}\n`)
const machine = describeMachine()
log(`load ${machine.loadAverageAtStart} at the start`)
const resultsDir = join(PROJECT_ROOT, 'bench', 'results')
const heapDir = join(resultsDir, 'heap')
mkdirSync(heapDir, { recursive: true })
const database = await startDatabase(log)
const secret = randomBytes(32).toString('hex')
// to read the service's own count of bulk writes from /metrics
const metricsToken = randomBytes(24).toString('hex')
const mb = (bytes: number) => (bytes / 1048576).toFixed(1)
const rows: string[] = []
try {
  const token = await mintToken(database.url, secret, BENCH_USER)
  const given = args.find((arg) => arg.startsWith('--server='))?.slice('--server='.length)
  const modes: Array<{ name: string, server?: string }> = [{ name: 'compiled', server: given ?? compileService(log) }]
  if (args.includes('--tsx')) modes.push({ name: 'tsx' })
  for (const mode of modes) {
    const db = await prepareDatabase(database.client, `memory_${mode.name}`)
    await createUser(db, BENCH_USER)
    const service = await startService({
      name: `memory_${mode.name}`,
      databaseUrl: database.url,
      database: db.databaseName,
      secret,
      env: { METRICS_TOKEN: metricsToken, ...extraEnv },
      logDir: resultsDir,
      compiledServer: mode.server,
      nodeArgs
    })
    try {
      rows.push(...await measure(mode.name, service, token, database.pid))
    } finally {
      await service.stop()
    }
  }
} finally {
  await stopAllServices()
  await database.stop()
}
process.stdout.write([
  `W1, ${CONNECTIONS} connections, ${requests} requests; load ${machine.loadAverageAtStart} at the start, ` +
    `${describeMachine().loadAverageAtStart} at the end${Object.keys(extraEnv).length > 0 ? `; ${JSON.stringify(extraEnv)}` : ''}` +
    `${nodeArgs.length > 0 ? `; node ${nodeArgs.join(' ')}` : ''}`,
  '',
  '| service | when | RSS MB | heap total MB | heap used MB | external MB | array buffers MB |',
  '|---|---|---:|---:|---:|---:|---:|',
  ...rows,
  ''
].join('\n'))

async function measure (name: string, service: RunningService, token: string, databasePid?: number): Promise<string[]> {
  const row = async (when: string, rss?: number) => {
    const usage = await service.heapUsage()
    if (usage === undefined) return `| ${name} | ${when} | ${rss?.toFixed(1) ?? '?'} | ? | ? | ? | ? |`
    return `| ${name} | ${when} | ${(rss ?? usage.rss / 1048576).toFixed(1)} | ${mb(usage.heapTotal)} | ${mb(usage.heapUsed)} | ` +
      `${mb(usage.external)} | ${mb(usage.arrayBuffers)} |`
  }
  const out: string[] = []
  await new Promise((resolve) => setTimeout(resolve, 2000))
  out.push(await row('idle'))
  if (snapshots) log(`idle snapshot: ${String(await service.heapSnapshot(join(heapDir, `${name}-idle.heapsnapshot`)))}`)
  const plan = (sequence: EventSequence): LoadPlan => ({
    url: service.url,
    token,
    connections: CONNECTIONS,
    requests: [{ method: 'POST', path: '/events', body: () => JSON.stringify(sequence.next()) }]
  })
  await runLoad(plan(new EventSequence(runMarker('memory-warm'))), { amount: CONNECTIONS * 2, guardMs: 120_000 })
  out.push(await row('after warm-up'))

  const samples: number[] = []
  let peak = { rss: 0, usage: undefined as NodeJS.MemoryUsage | undefined }
  const sampling = { on: true }
  const sampler = (async () => {
    while (sampling.on) {
      const rss = service.memory().rssMb
      samples.push(rss)
      // asked only at a new peak by a whole MB: process.memoryUsage() costs the service CPU, counted per event here
      if (rss > peak.rss + 1) peak = { rss, usage: await service.heapUsage() }
      else if (rss > peak.rss) peak = { rss, usage: peak.usage }
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS))
    }
  })()
  const snapshotTimer = snapshots
    ? setTimeout(() => {
      service.heapSnapshot(join(heapDir, `${name}-load.heapsnapshot`))
        .then((file) => log(`snapshot under load: ${String(file)}`), () => {})
    }, 4000)
    : undefined
  const cpuBefore = processCpuMs(service.pid)
  const databaseCpuBefore = databasePid === undefined ? 0 : processCpuMs(databasePid)
  const before = await serviceCounts(service)
  const run = await runLoad(plan(new EventSequence(runMarker('memory'))), { amount: requests, guardMs: 600_000 })
  const cpuMsPerEvent = (processCpuMs(service.pid) - cpuBefore) / Math.max(1, run.ok)
  const databaseCpu = databasePid === undefined ? undefined : (processCpuMs(databasePid) - databaseCpuBefore) / Math.max(1, run.ok)
  const after = await serviceCounts(service)
  const bulkWrites = after.bulkWrites - before.bulkWrites
  const meanBatch = (after.batchedEvents - before.batchedEvents) / Math.max(1, bulkWrites)
  const commands = [...after.commands]
    .map(([command, count]) => `${command} ${((count - (before.commands.get(command) ?? 0)) / Math.max(1, bulkWrites)).toFixed(2)}`)
  log(`${name}: database commands per bulk write (the service's own count): ${commands.join(', ')}`)
  log(`${name}: ${Math.round(run.ok / (run.elapsedMs / 1000))} events/s, ` +
    `${databaseCpu?.toFixed(3) ?? '?'} ms database CPU per event, ${meanBatch.toFixed(1)} events per bulk write ` +
    `(${bulkWrites} bulk writes)`)
  clearTimeout(snapshotTimer)
  sampling.on = false
  await sampler
  log(`${name}: ${run.ok} answered 2xx, ${run.failed} not, ${samples.length} RSS samples, ${cpuMsPerEvent.toFixed(3)} ms service CPU per event`)
  out.push(`| ${name} | steady (median of ${samples.length} samples; ${cpuMsPerEvent.toFixed(3)} ms service CPU per event) | ` +
    `${percentile(samples, 50).toFixed(1)} | | | | |`)
  const usage = peak.usage
  out.push(usage === undefined
    ? `| ${name} | peak | ${peak.rss.toFixed(1)} | ? | ? | ? | ? |`
    : `| ${name} | peak | ${peak.rss.toFixed(1)} | ${mb(usage.heapTotal)} | ${mb(usage.heapUsed)} | ${mb(usage.external)} | ${mb(usage.arrayBuffers)} |`)
  out.push(`| ${name} | high-water (VmHWM) | ${service.memory().peakMb.toFixed(1)} | | | | |`)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  out.push(await row('2 s after'))
  return out
}

interface ServiceCounts { bulkWrites: number, batchedEvents: number, commands: Map<string, number> }

/**
 * The service's own counts, from one read of its /metrics: its bulk writes and the events they held
 * (auditlog_group_commit_batch_size), and its database commands of each kind (metrics/database-commands.ts).
 */
async function serviceCounts (service: RunningService): Promise<ServiceCounts> {
  const text = await (await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text()
  const batch = (suffix: string) => Number(new RegExp(`^auditlog_group_commit_batch_size_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
  const commands = new Map<string, number>()
  for (const [, kind, command, value] of text.matchAll(/^auditlog_db_(write|query)_duration_seconds_count\{command="(\w+)",result="ok"\} (\S+)$/gm)) {
    commands.set(`${kind as string} ${command as string}`, Number(value))
  }
  return { bulkWrites: batch('count'), batchedEvents: batch('sum'), commands }
}
