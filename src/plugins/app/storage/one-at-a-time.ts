/**
 * Runs the tasks of one key one after another on this replica, and different keys side by side: a count read
 * then checked against a cap (webhooks, API keys per tenant) is never read by two tasks at once. A failed task
 * does not stop the next. Per replica only: replicas each serialize their own.
 */
export class OneAtATime {
  private readonly running = new Map<string, Promise<unknown>>()

  async run<T> (key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.running.get(key) ?? Promise.resolve()
    const turn = previous.catch(() => {}).then(task)
    this.running.set(key, turn)
    try {
      return await turn
    } finally {
      if (this.running.get(key) === turn) this.running.delete(key)
    }
  }
}
