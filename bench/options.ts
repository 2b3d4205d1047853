/**
 * How long and how large a benchmark run is. `--quick` is for day-to-day checks (under 3 minutes);
 * the default is what BENCHMARKS.md records; `--full` adds the 1,000,000-event read dataset.
 */
export interface BenchOptions {
  profile: 'quick' | 'default' | 'full'
  repetitions: number
  /** Warm-up of every load run, bounded in time. */
  warmupSeconds: number
  /** Target length of every measured run: its request count is the warm-up's rate times this. */
  measureSeconds: number
  /** Fewest requests per connection (or calls per worker) in a measured run. */
  minPerConnection: number
  /** Hard stop for one measured run, whatever its count. */
  guardSeconds: number
  /**
   * Repetitions of W4 and W5. On FerretDB every query there scans the whole collection (it uses no
   * index), so each sample costs seconds at 100,000 events and minutes at 1,000,000: fewer samples.
   */
  readRepetitions: number
  /** Hard stop for one timed series of W4/W5 queries (each a scan of the dataset on FerretDB). */
  readGuardSeconds: number
  /** Events W4 and W5 read from (loaded straight into the database before the read workloads). */
  readDatasetSize: number
  /** Timed queries per repetition in W4, for the service and for the driver each. */
  querySamples: number
  /** Timed page fetches per depth and repetition in W5, for the service and for the driver each. */
  pageSamples: number
  /** Run the service child under `node --cpu-prof` (profiles land in bench/results/profiles). */
  cpuProfile: boolean
  /** Build the service with tsc and run the JavaScript, as production does, instead of src/ under tsx. */
  compiled: boolean
  /** A server.js to run instead (e.g. another build, to compare a change); implies compiled. */
  server?: string
  /** Only these workloads (e.g. `--only=limit,W1`); all when empty. */
  only: string[]
  /**
   * A git ref to compare with (`--baseline=main~1`): it is compiled beside the current code, both run
   * compiled, and W1 (group commit on) and W2 also run against it, interleaved, as a limit of their own.
   */
  baseline?: string
  /** A git ref to measure instead of this checkout (`--current=REF`), built the same way as the baseline. */
  current?: string
}

const PROFILES: Record<BenchOptions['profile'], Omit<BenchOptions, 'cpuProfile' | 'compiled' | 'only'>> = {
  quick: {
    profile: 'quick',
    repetitions: 1,
    readRepetitions: 1,
    warmupSeconds: 1,
    measureSeconds: 2,
    minPerConnection: 3,
    guardSeconds: 30,
    readGuardSeconds: 300,
    readDatasetSize: 2_000,
    querySamples: 2,
    pageSamples: 1
  },
  default: {
    profile: 'default',
    repetitions: 3,
    readRepetitions: 3,
    warmupSeconds: 3,
    measureSeconds: 8,
    minPerConnection: 5,
    guardSeconds: 90,
    readGuardSeconds: 1800,
    readDatasetSize: 100_000,
    querySamples: 3,
    pageSamples: 1
  },
  full: {
    profile: 'full',
    repetitions: 3,
    readRepetitions: 1,
    warmupSeconds: 3,
    measureSeconds: 8,
    minPerConnection: 5,
    guardSeconds: 90,
    readGuardSeconds: 14_400,
    readDatasetSize: 1_000_000,
    querySamples: 2,
    pageSamples: 1
  }
}

export const WORKLOADS = ['limit', 'W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7'] as const

export function parseOptions (argv: string[]): BenchOptions {
  const flags = new Set(
    argv.filter((arg) => !['--only=', '--server=', '--baseline=', '--current='].some((prefix) => arg.startsWith(prefix)))
  )
  for (const flag of flags) {
    if (!['--quick', '--full', '--profile', '--compiled'].includes(flag)) {
      throw new Error(
        `unknown option ${flag} (use --quick, --full, --profile, --compiled, --server=path/server.js, --baseline=git-ref, --current=git-ref, --only=W1,W2)`
      )
    }
  }
  if (flags.has('--quick') && flags.has('--full')) throw new Error('--quick and --full exclude each other')
  const profile = flags.has('--quick') ? 'quick' : flags.has('--full') ? 'full' : 'default'
  const onlyArg = argv.find((arg) => arg.startsWith('--only='))
  const only = onlyArg === undefined ? [] : onlyArg.slice('--only='.length).split(',').filter(Boolean)
  for (const name of only) {
    if (!(WORKLOADS as readonly string[]).includes(name)) throw new Error(`unknown workload ${name} (one of ${WORKLOADS.join(', ')})`)
  }
  const server = argv.find((arg) => arg.startsWith('--server='))?.slice('--server='.length)
  const baseline = argv.find((arg) => arg.startsWith('--baseline='))?.slice('--baseline='.length)
  const current = argv.find((arg) => arg.startsWith('--current='))?.slice('--current='.length)
  return {
    ...PROFILES[profile],
    cpuProfile: flags.has('--profile'),
    compiled: flags.has('--compiled') || baseline !== undefined,
    server,
    only,
    baseline,
    current
  }
}

export function selected (options: BenchOptions, workload: typeof WORKLOADS[number]): boolean {
  return options.only.length === 0 || options.only.includes(workload)
}
