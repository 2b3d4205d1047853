import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Sequencer } from '../events/sequencer.js'

declare module 'fastify' {
  interface FastifyInstance {
    settledWatch: SettledWatch
  }
}

export interface SettledWatchOptions {
  /** How often a watched tenant's settled mark is read. */
  pollMs: number
}

type Listener = (settledThrough: number) => void

interface Watched {
  listeners: Set<Listener>
  settledThrough: number
  timer: NodeJS.Timeout
  polling: boolean
}

/**
 * Tells followers (streams, webhook deliveries) when a tenant's log has grown, on whichever replica the
 * events were written: it reads the sequencer's settled mark, a small read of the sequence collections,
 * never the events. One poller per watched tenant per replica, however many followers it has, so the
 * cost of following does not grow with the number of streams; a tenant nobody follows is not polled.
 */
export class SettledWatch {
  private readonly tenants = new Map<string, Watched>()

  constructor (private readonly sequencer: Pick<Sequencer, 'settledThrough'>, private readonly options: SettledWatchOptions, private readonly log?: FastifyBaseLogger) {}

  /** Starts following a tenant: the listener hears every rise of its settled mark until the returned function is called. */
  follow (tenant: string, listener: Listener): () => void {
    let watched = this.tenants.get(tenant)
    if (watched === undefined) {
      const created: Watched = { listeners: new Set(), settledThrough: 0, polling: false, timer: setInterval(() => { this.poll(tenant, created).catch(() => {}) }, this.options.pollMs).unref() }
      watched = created
      this.tenants.set(tenant, watched)
    }
    watched.listeners.add(listener)
    const own = watched
    return () => {
      own.listeners.delete(listener)
      if (own.listeners.size === 0 && this.tenants.get(tenant) === own) {
        clearInterval(own.timer)
        this.tenants.delete(tenant)
      }
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
      const settledThrough = await this.sequencer.settledThrough(tenant)
      if (settledThrough <= watched.settledThrough) return
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
  const watch = new SettledWatch(fastify.sequencer, options, fastify.log)
  fastify.decorate('settledWatch', watch)
  fastify.addHook('onClose', async function stopWatching () { watch.close() })
}

export default fp(settledWatchPlugin, { fastify: '5.x', name: 'settled-watch', dependencies: ['sequencer'] })
