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
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  let stopped = false
  const round = (): void => {
    running = task()
      .catch((err: unknown) => log?.warn({ err }, failure))
      .finally(() => {
        if (!stopped) timer = setTimeout(round, ms()).unref()
      })
  }
  timer = setTimeout(round, ms()).unref()
  return async () => {
    stopped = true
    clearTimeout(timer)
    await running
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
