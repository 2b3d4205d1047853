import type { MachineInfo } from './machine.js'
import type { Results } from './results.js'
import { spread, type Spread } from './stats.js'

/** The results as the Markdown table BENCHMARKS.md quotes and as JSON, both from the same data. */
export interface RunInfo {
  command: string
  profile: string
  startedAt: string
  durationS: number
  machine: MachineInfo
  database: string
  repetitions: number
  readDatasetSize: number
  /** How the service ran: `node --import tsx src/server.ts` or the compiled JavaScript. */
  serviceCommand: string
  /** The git ref W1 (on) and W2 were also measured against, side by side (`--baseline`). */
  baseline?: string
  /** The git ref measured instead of the checkout (`--current`). */
  current?: string
}

export interface TargetResult {
  name: string
  value: number
  goal: string
  met: boolean | null
}

interface TargetRule {
  name: string
  goal: string
  value: (results: Results) => number
  met: (value: number) => boolean
}

/**
 * a ÷ b, paired by repetition when both were measured in the same repetitions (the write suite runs
 * them side by side), so that a slow minute on the shared machine weighs on both; else medians.
 */
export function pairedRatio (a: Spread | undefined, b: Spread | undefined): Spread {
  if (a === undefined || b === undefined) return spread([])
  if (a.runs.length > 0 && a.runs.length === b.runs.length) return spread(a.runs.map((value, i) => value / (b.runs[i] as number)))
  return spread([a.median / b.median])
}

const ratioOf = (a: Spread | undefined, b: Spread | undefined) => pairedRatio(a, b).median
const serviceOf = (r: Results, id: string) => r.find(id)?.service
const limitOf = (r: Results, id: string) => r.find(id)?.limit?.value

const TARGETS: TargetRule[] = [
  ...[50, 200].map((c) => ({
    name: `W1 group commit on ÷ off, ${c} connections`,
    goal: '≥ 5×',
    value: (r: Results) => ratioOf(serviceOf(r, `W1.on.${c}.rate`), serviceOf(r, `W1.off.${c}.rate`)),
    met: (v: number) => v >= 5
  })),
  ...[50, 200].map((c) => ({
    name: `W1 with signed receipts ÷ without (INGEST_RECEIPTS=false), ${c} connections`,
    goal: '≥ 0.9×',
    value: (r: Results) => ratioOf(serviceOf(r, `W1.on.${c}.rate`), serviceOf(r, `W1.unsigned.${c}.rate`)),
    met: (v: number) => v >= 0.9
  })),
  ...[50, 200].map((c) => ({
    name: `W1 group commit on ÷ insertMany-100 limit, ${c} connections`,
    goal: '≥ 0.5×',
    value: (r: Results) => ratioOf(serviceOf(r, `W1.on.${c}.rate`), r.limits['insertMany-100']?.rate),
    met: (v: number) => v >= 0.5
  })),
  {
    name: 'W2 1000-event batches ÷ insertMany-1000 limit',
    goal: '≥ 0.8×',
    value: (r) => ratioOf(serviceOf(r, 'W2.1000.rate'), limitOf(r, 'W2.1000.rate')),
    met: (v) => v >= 0.8
  },
  ...(['p50', 'p99'] as const).map((p) => ({
    name: `W4 service ÷ driver, ${p}`,
    goal: '≤ 1.15×',
    value: (r: Results) => ratioOf(serviceOf(r, `W4.${p}`), limitOf(r, `W4.${p}`)),
    met: (v: number) => v <= 1.15
  })),
  {
    name: 'W7 ingest with 5 SSE streams and 2 webhooks delivering ÷ nothing consuming',
    goal: '≥ 0.9×',
    value: (r) => ratioOf(serviceOf(r, 'W7.delivering.rate'), serviceOf(r, 'W7.none.rate')),
    met: (v) => v >= 0.9
  },
  {
    name: 'Peak RSS during W1 at 200 connections, group commit on (MB)',
    goal: '≤ 200 MB',
    value: (r) =>
      r.resources.find((res) => res.case.includes('200 conn.') && res.case.endsWith('group commit on'))?.peakRssMb.max ?? Number.NaN,
    met: (v) => v <= 200
  }
]

export function evaluateTargets (results: Results): TargetResult[] {
  return TARGETS.map((rule) => {
    const value = rule.value(results)
    return { name: rule.name, value, goal: rule.goal, met: Number.isFinite(value) ? rule.met(value) : null }
  })
}

export function toJson (info: RunInfo, results: Results): string {
  return JSON.stringify(
    {
      ...info,
      targets: evaluateTargets(results),
      limits: results.limits,
      figures: results.figures,
      resources: results.resources,
      cpuMsPerEvent: results.cpu,
      integrity: { runs: results.checks.length, failed: results.checks.filter((c) => !c.ok).length, checks: results.checks },
      deliveries: {
        consumers: results.deliveries.length,
        failed: results.deliveries.filter((c) => !c.ok).length,
        checks: results.deliveries
      },
      notes: results.notes
    },
    (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
    2
  )
}

export function toMarkdown (info: RunInfo, results: Results): string {
  const m = info.machine
  const lines: string[] = [
    `# Benchmark results: \`${info.command}\``,
    '',
    `${info.startedAt}, ${Math.round(info.durationS)} s. ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, ${m.platform}, Node ${m.node}; ` +
      `load average ${m.loadAverageAtStart} at the start (shared machine: compare ratios, not absolute figures). ` +
      `Database: ${info.database}. Service: \`${info.serviceCommand}\`. Median of ${info.repetitions} run(s), range in brackets.`,
    '',
    '## Targets',
    '',
    '| Target | Measured | Goal | Met |',
    '|---|---:|---|---|',
    ...evaluateTargets(results).map(
      (t) =>
        `| ${t.name} | ${t.name.includes('MB') ? fmt(t.value, 0) : fmt(t.value, 2) + '×'} | ${t.goal} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`
    ),
    '',
    '## Results',
    '',
    'Limit: the same work done straight through the MongoDB driver (same documents, write concern, indexes and server). ' +
      'Service ÷ limit is the median of the per-repetition ratios (each repetition runs a limit case right before the service cases compared with it); ' +
      'below 1 means slower for events/s, faster for latencies.',
    '',
    '| Workload | Case | Metric | Service | Limit | Service ÷ limit | Limit measured as |',
    '|---|---|---|---:|---:|---:|---|',
    ...results.figures.map(
      (f) =>
        `| ${f.workload} | ${f.case} | ${f.metric} | ${fmtSpread(f.service, f.metric)} | ` +
        `${f.limit === undefined ? '' : fmtSpread(f.limit.value, f.metric)} | ${f.limit === undefined ? '' : fmtSpread(pairedRatio(f.service, f.limit.value), 'ratio') + '×'} | ${f.limit?.label ?? ''} |`
    ),
    '',
    '### The limit',
    '',
    '| Case | events/s | p50 ms per call | p99 ms per call |',
    '|---|---:|---:|---:|',
    ...Object.values(results.limits).map(
      (l) => `| ${l.label} | ${fmtSpread(l.rate, 'events/s')} | ${fmtSpread(l.p50, 'p50 ms')} | ${fmtSpread(l.p99, 'p99 ms')} |`
    ),
    '',
    '## Server resources during W1',
    '',
    'RSS of the service process, sampled every 100 ms: before the run, median and highest during it; high-water mark (VmHWM) since the process started.',
    '',
    '| Case | RSS idle MB | RSS steady MB | RSS peak MB | High-water MB | Loop delay p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...results.resources.map(
      (r) =>
        `| ${r.case} | ${fmtSpread(r.idleRssMb, 'MB')} | ${fmtSpread(r.steadyRssMb, 'MB')} | ${fmtSpread(r.peakRssMb, 'MB')} | ${fmtSpread(r.highWaterMb, 'MB')} | ` +
        `${fmtSpread(r.loopDelay.p50, 'ms')} | ${fmtSpread(r.loopDelay.p99, 'ms')} | ${fmtSpread(r.loopDelay.max, 'ms')} |`
    ),
    '',
    '## CPU per event',
    '',
    `CPU milliseconds each process spent per event stored during the measured runs. All processes share the same ${m.cpus} cores, so ` +
      `${m.cpus} × 1000 ÷ (sum) bounds the events/s any case can reach here.`,
    '',
    '| Case | Service | Database | Load generator / driver client | Sum | Bound events/s |',
    '|---|---:|---:|---:|---:|---:|',
    ...results.cpu.map((c) => {
      const sum = (c.service?.median ?? 0) + (c.database?.median ?? 0) + c.client.median
      return (
        `| ${c.case} | ${c.service === undefined ? '' : fmtSpread(c.service, 'cpu')} | ${c.database === undefined ? '' : fmtSpread(c.database, 'cpu')} | ` +
        `${fmtSpread(c.client, 'cpu')} | ${fmt(sum, 2)} | ${fmt((m.cpus * 1000) / sum, 0)} |`
      )
    }),
    '',
    '## Integrity',
    '',
    integrityLine(results),
    ...(results.deliveries.length > 0 ? ['', deliveryLine(results)] : []),
    ...(results.notes.length > 0 ? ['', '## Notes', '', ...results.notes.map((n) => `- ${n}`)] : []),
    ''
  ]
  return lines.join('\n')
}

function integrityLine (results: Results): string {
  const failed = results.checks.filter((c) => !c.ok)
  if (results.checks.length === 0) return 'No write workload ran.'
  if (failed.length === 0) {
    const byId = results.checks.filter((c) => c.missing !== undefined).length
    return `Events stored = 2xx answers in all ${results.checks.length} measured write runs (read from the database after each run; ` +
      `in ${byId} of them id for id: every acknowledged event is stored, and no other beyond the requests a time guard left unanswered).`
  }
  return `**${failed.length} of ${results.checks.length} runs lost or invented events:** ` +
    failed.map((c) => `${c.run}: ${c.acknowledged} acknowledged, ${c.stored} stored` +
      (c.missing === undefined ? '' : ` (${c.missing} acknowledged missing, ${c.unacknowledged ?? 0} not acknowledged)`)).join('; ')
}

function deliveryLine (results: Results): string {
  const failed = results.deliveries.filter((c) => !c.ok)
  if (failed.length === 0) { return `Every consumer got every event of the log exactly once, in seq order, every webhook delivery signed (${results.deliveries.length} consumers checked against the log after their run).` }
  return (
    `**${failed.length} of ${results.deliveries.length} consumers did not get every event exactly once in seq order:** ` +
    failed
      .map(
        (c) =>
          `${c.run} ${c.consumer}: ${c.missing} missing, ${c.repeated} repeated, ${c.outOfOrder} out of order, ${c.unexpected} not in the log, ${c.badSignatures} bad signatures`
      )
      .join('; ')
  )
}

function fmtSpread (s: Spread, metric: string): string {
  const digits = metric === 'cpu' || metric === 'ratio' ? 2 : metric === 'events/s' || metric === 'errors' || metric === 'MB' ? 0 : 1
  if (s.runs.length <= 1 || s.min === s.max) return fmt(s.median, digits)
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
}

function fmt (value: number, digits: number): string {
  if (!Number.isFinite(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}
