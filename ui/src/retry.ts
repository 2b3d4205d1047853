import { ApiError } from './api.js'

/** The longest Retry-After the page waits out by itself; beyond it, the person decides. */
const MAX_WAIT_SECONDS = 10

/**
 * A read that the service refused for now (503, with Retry-After) is asked again once, after the wait it was told,
 * and `onWait` says so on the page meanwhile: one person's clicks meeting the per-tenant bound of reads never end
 * on an error, and a service that stays busy is said in words after the second answer. An abort ends the wait.
 */
export async function withOneRetry<T> (
  call: () => Promise<T>,
  signal: AbortSignal,
  onWait: (seconds: number) => void
): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 503 || signal.aborted) throw err
    const told = Number(err.retryAfter)
    const seconds = Number.isFinite(told) && told >= 0 ? told : 1
    if (seconds > MAX_WAIT_SECONDS) throw err
    onWait(seconds)
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) { reject(signal.reason); return }
      const timer = setTimeout(resolve, seconds * 1000)
      signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason) }, { once: true })
    })
    return await call()
  }
}
