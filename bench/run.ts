import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { BenchContext } from './context.js'
import { compileService } from './compile.js'
import { startDatabase } from './database.js'
import { describeMachine } from './machine.js'
import { parseOptions, selected } from './options.js'
import { toJson, toMarkdown, type RunInfo } from './report.js'
import { Results } from './results.js'
import { PROJECT_ROOT, stopAllServices } from './service.js'
import { BENCH_USER, mintToken } from './token.js'
import { runWriteSuite } from './workloads/write-suite.js'
import { runMixed } from './workloads/w3-mixed.js'
import { openReadDataset } from './workloads/read-dataset.js'
import { runQueries } from './workloads/w4-query.js'
import { runPagination } from './workloads/w5-pagination.js'
import { runRetention } from './workloads/w6-retention.js'
import { runDelivery } from './workloads/w7-delivery.js'

/**
 * `npm run bench [-- --quick | --full] [--profile] [--only=limit,W1,...]`: starts a database and the
 * service, runs the reference harness and the workloads, and writes bench/results/latest.{md,json}.
 * Exits non-zero if any write workload lost (or invented) an event, or a W7 consumer missed, repeated or
 * reordered one.
 */
const options = parseOptions(process.argv.slice(2))
const startedAt = new Date()
const began = performance.now()
const log = (line: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`)

const resultsDir = join(PROJECT_ROOT, 'bench', 'results')
mkdirSync(resultsDir, { recursive: true })
const profileDir = options.cpuProfile ? join(resultsDir, 'profiles') : undefined
if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true })

let compiledServer = options.server === undefined ? undefined : resolve(options.server)
if (options.compiled && compiledServer === undefined) compiledServer = compileService(log)

const baselineServer = options.baseline === undefined ? undefined : compileRef(options.baseline)
if (options.current !== undefined) compiledServer = compileRef(options.current)

/**
 * Builds a git ref beside this checkout, once per commit: its sources from `git archive`, its own
 * dependencies from its own lock file (`npm ci`), compiled with its own tsc.
 */
function compileRef (ref: string): string {
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: PROJECT_ROOT }).toString().trim()
  const dir = join(PROJECT_ROOT, 'node_modules', '.cache', 'audit-log-bench', `ref-${sha}`)
  const server = join(dir, 'dist', 'src', 'server.js')
  if (existsSync(server)) return server
  log(`building ${ref} (${sha}) into ${dir}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  execFileSync('sh', ['-c', `git archive ${sha} | tar -x -C '${dir}'`], { cwd: PROJECT_ROOT })
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  execFileSync(
    process.execPath,
    [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist')],
    { cwd: dir, stdio: 'inherit' }
  )
  return server
}

const machine = describeMachine()
log(
  `profile ${options.profile}: ${options.repetitions} repetition(s), ${options.measureSeconds} s runs; ${machine.cpus} CPUs, load ${machine.loadAverageAtStart}`
)
const database = await startDatabase(log)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`)
    stopAllServices().finally(() => database.stop()).finally(() => process.exit(130)).catch(() => process.exit(130))
  })
}

const results = new Results()
const secret = randomBytes(32).toString('hex')
let failure: unknown
try {
  const token = await mintToken(database.url, secret, BENCH_USER)
  const context: BenchContext = { options, database, secret, token, results, resultsDir, profileDir, compiledServer, baselineServer, log }
  if (['limit', 'W1', 'W2'].some((name) => selected(options, name as 'limit'))) {
    log('the limit (plain driver), W1 (single events) and W2 (batches), interleaved')
    await runWriteSuite(context)
  }
  if (selected(options, 'W3')) { log('W3: 95% writes, 5% reads'); await runMixed(context) }
  if (selected(options, 'W6')) { log('W6: ingest while the retention sweeper deletes'); await runRetention(context) }
  if (selected(options, 'W7')) { log('W7: ingest while SSE streams and webhooks deliver'); await runDelivery(context) }
  if (selected(options, 'W4') || selected(options, 'W5')) {
    const dataset = await openReadDataset(context)
    try {
      if (selected(options, 'W4')) { log('W4: filtered query'); await runQueries(context, dataset) }
      if (selected(options, 'W5')) { log('W5: pagination'); await runPagination(context, dataset) }
    } finally {
      await dataset.service.stop()
    }
  }
} catch (err) {
  failure = err
} finally {
  await stopAllServices()
  await database.stop()
}

const info: RunInfo = {
  command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  profile: options.profile,
  startedAt: startedAt.toISOString(),
  durationS: (performance.now() - began) / 1000,
  machine,
  database: database.description,
  repetitions: options.repetitions,
  readDatasetSize: options.readDatasetSize,
  serviceCommand:
    compiledServer === undefined
      ? 'node --import tsx src/server.ts'
      : options.current !== undefined
        ? `node dist/src/server.js of ${options.current}, compiled by tsc`
        : options.server === undefined
          ? 'node src/server.js compiled by tsc (as npm run start:prod)'
          : `node ${options.server}`,
  ...(options.baseline === undefined ? {} : { baseline: options.baseline }),
  ...(options.current === undefined ? {} : { current: options.current })
}
if (failure !== undefined) results.notes.push(`The run stopped early: ${(failure as Error).message}`)
const markdown = toMarkdown(info, results)
writeFileSync(join(resultsDir, 'latest.md'), markdown)
writeFileSync(join(resultsDir, 'latest.json'), toJson(info, results))
writeFileSync(join(resultsDir, `${options.profile}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), toJson(info, results))
process.stdout.write(markdown)
log(`wrote ${join('bench', 'results', 'latest.md')} and latest.json`)

const lost = results.checks.filter((check) => !check.ok)
const undelivered = results.deliveries.filter((check) => !check.ok)
if (failure !== undefined) {
  process.stderr.write(`benchmark failed: ${(failure as Error).stack ?? String(failure)}\n`)
  process.exit(1)
}
if (lost.length > 0) {
  process.stderr.write(`benchmark failed: ${lost.length} run(s) where events stored ≠ 2xx answers\n`)
  process.exit(1)
}
if (undelivered.length > 0) {
  process.stderr.write(`benchmark failed: ${undelivered.length} consumer(s) missed, repeated or reordered events\n`)
  process.exit(1)
}
