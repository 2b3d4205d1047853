import { OverloadedError } from '../../../errors.js'

/**
 * Bounds concurrent CPU-heavy work (password hashing) so a login flood cannot starve ingestion: at most
 * `concurrency` run, at most `queueLimit` wait, and the rest are refused at once with 503.
 */
export class Semaphore {
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor (private readonly concurrency: number, private readonly queueLimit: number) {}

  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) throw new OverloadedError()
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      this.running++
    }
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      // hand the slot straight to the next waiter, or give it back
      if (next !== undefined) next()
      else this.running--
    }
  }
}
