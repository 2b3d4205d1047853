import type { FastifyBaseLogger } from 'fastify'

/**
 * Runs `task` every `ms` until the returned stop is called, one round at a time (the next is scheduled
 * when the last has ended); a failed round is logged as `failure` and the next one retries.
 */
export function runEvery (
  ms: () => number,
  task: () => Promise<void>,
  log: FastifyBaseLogger | undefined,
  failure: string
): () => Promise<void> {
  // every round counts as busy, so the wait never grows
  return runBackingOff(ms, ms, async () => { await task(); return true }, log, failure).stop
}

/** Rounds of a task that can be woken early: see runBackingOff. */
export interface Rounds {
  /** Ends the rounds, waiting for one in progress. */
  stop: () => Promise<void>
  /** Work has arrived: the next round runs within `baseMs` of now, and the rounds stop backing off. */
  wake: () => void
}

/**
 * runEvery for a task that says whether its round found anything to do (`true`). A round that found nothing
 * doubles the wait before the next, up to `idleMs`; a round with work, a failed round or `wake` bring it back to
 * `baseMs`. An idle service then reads the database about once per `idleMs` instead of once per `baseMs`, and the
 * work this replica makes itself (it calls `wake`) waits no longer than it did.
 */
export function runBackingOff (
  baseMs: () => number,
  idleMs: () => number,
  task: () => Promise<boolean>,
  log: FastifyBaseLogger | undefined,
  failure: string
): Rounds {
  let timer: NodeJS.Timeout | undefined
  let dueAt = 0
  let wait = baseMs()
  let running: Promise<void> | undefined
  let woken = false
  let stopped = false
  const schedule = (ms: number): void => {
    dueAt = Date.now() + ms
    timer = setTimeout(round, ms).unref()
  }
  const round = (): void => {
    timer = undefined
    woken = false
    running = task()
      .catch((err: unknown) => {
        log?.warn({ err }, failure)
        return true
      })
      .then((busy) => {
        running = undefined
        if (stopped) return
        wait = busy || woken ? baseMs() : Math.min(Math.max(baseMs(), idleMs()), wait * 2)
        schedule(wait)
      })
  }
  schedule(wait)
  return {
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    },
    wake: () => {
      if (running !== undefined) woken = true
      if (timer === undefined || stopped) return
      wait = baseMs()
      if (dueAt - Date.now() <= wait) return
      clearTimeout(timer)
      schedule(wait)
    }
  }
}

/** Resolves after `ms`, or early (without error) when the signal aborts: a wait that a stop does not sit out. */
export async function sleepUnlessAborted (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
