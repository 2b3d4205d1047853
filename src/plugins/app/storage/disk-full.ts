import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { CommandFailedEvent, MongoClient } from 'mongodb'
import { isDiskFull } from './database-errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether the database refused a write for lack of space lately: readiness is false meanwhile. */
    diskFull: DiskFull
  }
}

export interface DiskFullOptions {
  /** How long after the last write refused for lack of space readiness stays false. */
  holdMs?: number
  /** The clock (tests pass their own). */
  now?: () => number
}

/**
 * Ten seconds: long enough that a load balancer takes the replica out (and writes stop failing on it), short enough
 * that it comes back by itself soon after space is freed. Nothing else tells it that space was freed: a small write
 * can still fit while an event batch does not, so a success says nothing; the next refused write holds it again.
 */
const HOLD_MS = 10000

/**
 * A full disk, learnt from the driver's command events: every write of every store (a request's, the folder's, a
 * checkpoint's) that the database refuses for lack of space marks it. The refused request itself is answered 503
 * with Retry-After (http/error-handler.ts); nothing was acknowledged, so nothing acknowledged is lost.
 */
export class DiskFull {
  private lastRefusedAt: number | undefined
  private readonly holdMs: number
  private readonly now: () => number

  constructor (options: DiskFullOptions = {}) {
    this.holdMs = options.holdMs ?? HOLD_MS
    this.now = options.now ?? Date.now
  }

  /** Hears every failed command of the client from now on. */
  observe (client: MongoClient): void {
    client.on('commandFailed', (event: CommandFailedEvent) => this.noteFailure(event.failure))
  }

  noteFailure (err: unknown): void {
    if (isDiskFull(err)) this.lastRefusedAt = this.now()
  }

  /** True while a write was refused for lack of space within the last holdMs. */
  get full (): boolean {
    return this.lastRefusedAt !== undefined && this.now() - this.lastRefusedAt < this.holdMs
  }
}

async function diskFullPlugin (fastify: FastifyInstance, options: DiskFullOptions) {
  const diskFull = new DiskFull(options)
  diskFull.observe(fastify.mongo.client)
  fastify.decorate('diskFull', diskFull)
}

export default fp(diskFullPlugin, { fastify: '5.x', name: 'disk-full', dependencies: ['mongodb'] })
