import { sleepUnlessAborted } from '../storage/periodic.js'

/**
 * The time webhook retries wait on. The service uses the system's; tests pass one they advance by hand, so
 * retry spacing is asserted exactly, without timed assertions on a shared machine.
 */
export interface Clock {
  now: () => number
  /** Resolves after `ms`, or early (without error) when the signal aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: sleepUnlessAborted
}

/**
 * Exponential backoff with jitter: the n-th retry (n ≥ 1) waits a random time between half and all of
 * base × 2^(n-1), capped at `max`. The jitter keeps subscriptions that failed together from retrying together.
 */
export function retryDelay (failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 40))
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}
