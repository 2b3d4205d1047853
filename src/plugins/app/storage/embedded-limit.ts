import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { runEvery } from './periodic.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** On FerretDB: whether the event log has grown past what one read can scan within QUERY_MAX_TIME_MS. */
    embeddedLimit: EmbeddedLimit
  }
}

/** The README section an operator who meets the embedded default's wall is sent to. */
export const MONGODB_SECTION = 'README, "Running with MongoDB (Docker)", and docs/scaling.md'

export interface EmbeddedLimitOptions {
  /** Measured cost of scanning one stored event on FerretDB/SQLite (EMBEDDED_SCAN_US_PER_EVENT). */
  scanMicrosPerEvent: number
  /** QUERY_MAX_TIME_MS: a read that scans longer fails with 503 QUERY_TIMEOUT. */
  maxTimeMs: number
  /** How often the size is looked at again (one read of the small counters collection). */
  checkMs?: number
}

/** A minute: the log cannot grow from harmless to a wall in less at the ingest rates FerretDB takes. */
const CHECK_MS = 60000

export interface SizeWarning {
  code: 'EMBEDDED_DATABASE_OUTGROWN'
  message: string
  stored_events: number
  limit_events: number
}

/**
 * How many events FerretDB must scan per read, found without reading the event log: the sequencer's folded
 * marks (a record or two per tenant) say how many seqs each tenant has; their sum is the events collection's
 * size, give or take recorded holes and expired events. bench/embedded-reads.ts measured it against
 * FerretDB's `count` (which reads the whole collection there). Structural, so storage imports nothing of events.
 */
export interface LogSize {
  foldedSeqCount: () => Promise<number>
}

/** The size at which one full scan no longer fits in the query time limit. */
export function scanLimit ({ scanMicrosPerEvent, maxTimeMs }: Pick<EmbeddedLimitOptions, 'scanMicrosPerEvent' | 'maxTimeMs'>): number {
  return Math.floor(maxTimeMs * 1000 / scanMicrosPerEvent)
}

export class EmbeddedLimit {
  readonly limit: number
  private current: SizeWarning | undefined

  constructor (
    private readonly logSize: LogSize,
    private readonly options: Pick<EmbeddedLimitOptions, 'scanMicrosPerEvent' | 'maxTimeMs'>,
    private readonly onOutgrown: (warning: SizeWarning) => void
  ) {
    this.limit = scanLimit(options)
  }

  /** The warning, once the log has passed the limit (it never shrinks back below it by itself: retention is slow here). */
  get warning (): SizeWarning | undefined {
    return this.current
  }

  /** Looks at the size again; warns (once) when it has passed the limit. */
  async check (): Promise<void> {
    if (this.current !== undefined) return
    const stored = await this.logSize.foldedSeqCount()
    if (stored < this.limit) return
    this.current = {
      code: 'EMBEDDED_DATABASE_OUTGROWN',
      stored_events: stored,
      limit_events: this.limit,
      message:
        `The database is FerretDB (the embedded default), which reads every stored event for each query (about ${this.options.scanMicrosPerEvent} µs each, ` +
        `EMBEDDED_SCAN_US_PER_EVENT). It holds about ${stored} events; past ${this.limit}, a read no longer fits in QUERY_MAX_TIME_MS (${this.options.maxTimeMs} ms) ` +
        `and fails with 503 QUERY_TIMEOUT. Move to MongoDB, whose indexes keep reads fast at any size: see the ${MONGODB_SECTION}.`
    }
    this.onOutgrown(this.current)
  }
}

/**
 * Only on FerretDB: MongoDB answers every read from an index, and its reads do not grow with the log.
 * The size is looked at once at startup and then every `checkMs`, from the sequence counters only.
 */
async function embeddedLimitPlugin (fastify: FastifyInstance, options: EmbeddedLimitOptions) {
  const embeddedLimit = new EmbeddedLimit(fastify.sequencer, options, (warning) => fastify.log.warn(warning, warning.message))
  fastify.decorate('embeddedLimit', embeddedLimit)
  if (fastify.databaseKind !== 'ferretdb') return
  let stop: (() => Promise<void>) | undefined
  fastify.addHook('onReady', async function watchSize () {
    await embeddedLimit
      .check()
      .catch((err: unknown) => fastify.log.warn({ err }, 'could not read the sequence counters for the embedded database size'))
    stop = runEvery(
      () => options.checkMs ?? CHECK_MS,
      async () => await embeddedLimit.check(),
      fastify.log,
      'could not read the sequence counters for the embedded database size'
    )
  })
  fastify.addHook('onClose', async function stopWatching () {
    await stop?.()
  })
}

export default fp(embeddedLimitPlugin, { fastify: '5.x', name: 'embedded-limit', dependencies: ['database-kind', 'sequencer'] })
