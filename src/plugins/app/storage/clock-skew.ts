import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { Gauge, type Registry } from 'prom-client'
import { runEvery } from './periodic.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** How far this replica's clock is from the database server's. */
    clockSkew: ClockSkew
  }
}

export interface ClockSkewOptions {
  /** CLOCK_SKEW_MAX_MS: beyond it, readiness warns (still 200) and the log says so. */
  maxMs: number
  /** How often the clocks are compared (one `hello` each time). */
  checkMs?: number
}

/** The readiness warning while this replica's clock is off by more than CLOCK_SKEW_MAX_MS. */
export interface ClockSkewWarning {
  code: 'CLOCK_SKEW'
  message: string
  skew_ms: number
  max_skew_ms: number
}

/** The database server's clock: `hello`'s `localTime`, which MongoDB and FerretDB both answer. */
export type ServerClock = () => Promise<Date>

const CHECK_MS = 30000

/**
 * This replica's clock against the database server's, the one clock every replica shares. Nothing in the service
 * relies on replicas agreeing on time (checkpoints count an interval from when this replica first saw the newest
 * one when its issued_at is ahead: integrity/checkpoints.ts), but the times it writes come from this clock: an
 * event's received time, a checkpoint's issued_at. So the skew is measured, exported as auditlog_clock_skew_seconds
 * and, beyond CLOCK_SKEW_MAX_MS, reported: a readiness warning and a log line.
 */
export class ClockSkew {
  private skew: number | undefined
  private roundTrip = 0
  private warned = false

  constructor (
    private readonly serverClock: ServerClock,
    readonly maxMs: number,
    private readonly log?: FastifyBaseLogger,
    registry?: Registry
  ) {
    if (registry !== undefined) {
      const self = this
      // eslint-disable-next-line no-new -- registered on the app's registry, read at scrape time
      new Gauge({
        name: 'auditlog_clock_skew_seconds',
        help: "This replica's clock minus the database server's, at the last comparison (positive: this clock is ahead).",
        registers: [registry],
        collect () {
          if (self.skew !== undefined) this.set(self.skew / 1000)
        }
      })
    }
  }

  /** This clock minus the server's, in ms, at the last comparison; undefined before the first. */
  get skewMs (): number | undefined {
    return this.skew
  }

  /** Compares the clocks once; `now` is this replica's clock (tests give another). */
  async measure (now: () => number = Date.now): Promise<number> {
    const sent = now()
    const server = (await this.serverClock()).getTime()
    const received = now()
    // the server read its clock between sending and receiving: the midpoint is off by half the round trip at most
    this.skew = Math.round((sent + received) / 2 - server)
    this.roundTrip = received - sent
    const beyond = this.beyond()
    if (beyond && !this.warned) this.log?.warn({ skewMs: this.skew, maxMs: this.maxMs }, "this replica's clock is off the database server's")
    if (!beyond && this.warned) this.log?.info({ skewMs: this.skew }, "this replica's clock agrees with the database server's again")
    this.warned = beyond
    return this.skew
  }

  /** Off by more than the bound, even allowing for the uncertainty of the measure. */
  private beyond (): boolean {
    return this.skew !== undefined && Math.abs(this.skew) - this.roundTrip / 2 > this.maxMs
  }

  get warning (): ClockSkewWarning | undefined {
    if (!this.beyond() || this.skew === undefined) return undefined
    const direction = this.skew > 0 ? 'ahead of' : 'behind'
    return {
      code: 'CLOCK_SKEW',
      skew_ms: this.skew,
      max_skew_ms: this.maxMs,
      message:
        `This replica's clock is about ${Math.abs(this.skew)} ms ${direction} the database server's (CLOCK_SKEW_MAX_MS ${this.maxMs}). ` +
        'Checkpoints go on, but the times this replica records (events received, checkpoints issued) are off by as much: synchronise its clock (NTP).'
    }
  }
}

async function clockSkewPlugin (fastify: FastifyInstance, options: ClockSkewOptions) {
  const admin = fastify.mongo.client.db('admin')
  const serverClock: ServerClock = async () => ((await admin.command({ hello: 1 })) as { localTime: Date }).localTime
  const clock = new ClockSkew(serverClock, options.maxMs, fastify.log, fastify.metrics.registry)
  fastify.decorate('clockSkew', clock)
  const measure = async (): Promise<void> => {
    await clock.measure()
  }
  await measure().catch((err: unknown) => fastify.log.warn({ err }, 'comparing clocks with the database server failed; retrying'))
  const stop = runEvery(() => options.checkMs ?? CHECK_MS, measure, fastify.log, 'comparing clocks with the database server failed; retrying')
  fastify.addHook('onClose', stop)
}

export default fp(clockSkewPlugin, { fastify: '5.x', name: 'clock-skew', dependencies: ['mongodb', 'metrics'] })
