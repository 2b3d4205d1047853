import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { toEventFilter } from '../events/filter.js'
import type { Sequencer } from '../events/sequencer.js'
import type { EventStore } from '../events/event-store.js'
import { readStoredAfter, type SeqRead } from './seq-reader.js'
import { SettledTail, type SettledTailOptions } from './settled-tail.js'

declare module 'fastify' {
  interface FastifyInstance {
    settledWatch: SettledWatch
  }
}

export interface SettledWatchOptions {
  /** How often a watched tenant's settled mark is read. */
  pollMs: number
  tail: SettledTailOptions
}

type Listener = (settledThrough: number) => void

interface Watched {
  listeners: Set<Listener>
  settledThrough: number
  timer: NodeJS.Timeout
  polling: boolean
}

/**
 * Tells followers (streams, webhook deliveries) when a tenant's log has grown, on whichever replica the events
 * were written, and answers their reads. It reads the sequencer's followed mark (the folded counter, one small
 * read, extended by this replica's own settled writes), never the events; the new events come from the replica's
 * tail of the log (settled-tail.ts), filled before the followers are woken. One poller per watched tenant per
 * replica, however many followers it has, so the cost of following does not grow with the number of streams; a
 * tenant nobody follows is not polled.
 */
export class SettledWatch {
  readonly tail: SettledTail
  /** Followers' reads answered from the tail, and from the database (a test and a bench figure). */
  readonly reads = { memory: 0, database: 0 }
  private readonly tenants = new Map<string, Watched>()

  constructor (
    private readonly sequencer: Pick<Sequencer, 'followedThrough' | 'settledThrough'>,
    private readonly store: EventStore,
    private readonly options: SettledWatchOptions,
    private readonly log?: FastifyBaseLogger
  ) {
    this.tail = new SettledTail(store, options.tail)
  }

  /**
   * Starts following a tenant: the listener hears every rise of its settled mark until the returned function is
   * called, and at once the mark the watch already holds. A follower's starting read (followFromNow's) may trail
   * the mark the other followers were told before this one joined: without this it would wait for a rise that, on a
   * tenant gone quiet, never comes (a webhook worker started while the event it was created for was settling
   * delivered it only after the next event of the tenant).
   */
  follow (tenant: string, listener: Listener): () => void {
    let watched = this.tenants.get(tenant)
    if (watched === undefined) {
      const created: Watched = {
        listeners: new Set(),
        settledThrough: 0,
        polling: false,
        timer: setInterval(() => {
          this.poll(tenant, created).catch(() => {})
        }, this.options.pollMs).unref()
      }
      watched = created
      this.tenants.set(tenant, watched)
      this.tail.keep(tenant)
    }
    watched.listeners.add(listener)
    if (watched.settledThrough > 0) listener(watched.settledThrough)
    const own = watched
    return () => {
      own.listeners.delete(listener)
      if (own.listeners.size === 0 && this.tenants.get(tenant) === own) {
        clearInterval(own.timer)
        this.tenants.delete(tenant)
        this.tail.drop(tenant)
      }
    }
  }

  /**
   * Follows the tenant as `follow` does, then tells the listener where the settled mark stands now, read from the
   * sequencer (every seq up to it settled, whichever replica wrote it): a follower's start. The listener keeps the
   * highest mark it hears, so a rise told while this read is in flight is never undone by its older answer. A read
   * that fails undoes the follow and is thrown.
   */
  async followFromNow (tenant: string, listener: Listener): Promise<() => void> {
    const stopFollowing = this.follow(tenant, listener)
    try {
      listener(await this.sequencer.settledThrough(tenant))
      return stopFollowing
    } catch (err) {
      stopFollowing()
      throw err
    }
  }

  /**
   * The tenant's events after `position` matching the filters of GET /events, up to `settledThrough`, at
   * most `limit`: from the tail when it holds them, else from the database. What streams and webhooks
   * deliver is what `GET /events?afterSeq=N&order=asc` returns. A read from the database is first admitted
   * by `admit` (the scan admission, where it is the follower's turn), and gives its units back when done.
   */
  async readAfter (
    tenant: string,
    filters: Record<string, unknown>,
    position: number,
    settledThrough: number,
    limit: number,
    admit?: () => Promise<() => void>
  ): Promise<SeqRead> {
    if (settledThrough <= position) return { events: [], reached: position }
    const filter = { ...toEventFilter(tenant, { ...filters, afterSeq: position }), afterSeq: position, settledThrough }
    const fromMemory = await this.tail.read(filter, limit)
    if (fromMemory !== undefined) {
      this.reads.memory++
      return fromMemory
    }
    const release = await admit?.()
    try {
      this.reads.database++
      return await readStoredAfter(this.store, filter, limit)
    } finally {
      release?.()
    }
  }

  /** Tenants followed on this replica (a test and a health figure). */
  get watchedTenants (): number {
    return this.tenants.size
  }

  close (): void {
    for (const watched of this.tenants.values()) clearInterval(watched.timer)
    this.tenants.clear()
  }

  private async poll (tenant: string, watched: Watched): Promise<void> {
    // a slow read is not stacked on by the next tick
    if (watched.polling) return
    watched.polling = true
    try {
      const settledThrough = await this.sequencer.followedThrough(tenant)
      if (settledThrough <= watched.settledThrough) return
      // filled before the followers wake (and before a new follower is told the mark), so that those at the tail find
      // the new events in memory
      await this.tail
        .advance(tenant, settledThrough)
        .catch((err: unknown) => this.log?.warn({ err, tenant }, 'filling the tail of the log failed; followers read the database'))
      watched.settledThrough = settledThrough
      for (const listener of [...watched.listeners]) listener(settledThrough)
    } catch (err) {
      // the followers keep their position; the next tick tries again
      this.log?.warn({ err, tenant }, 'reading the settled seq mark failed')
    } finally {
      watched.polling = false
    }
  }
}

async function settledWatchPlugin (fastify: FastifyInstance, options: SettledWatchOptions) {
  const watch = new SettledWatch(fastify.sequencer, fastify.eventStore, options, fastify.log)
  const stopHearing = fastify.eventWriter.onSettled((tenant, first, count, events) => watch.tail.written(tenant, first, count, events))
  fastify.decorate('settledWatch', watch)
  fastify.addHook('onClose', async function stopWatching () {
    stopHearing()
    watch.close()
  })
}

export default fp(settledWatchPlugin, { fastify: '5.x', name: 'settled-watch', dependencies: ['sequencer', 'event-store', 'event-writer'] })
