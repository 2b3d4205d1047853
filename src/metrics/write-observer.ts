import type { AuditMetrics } from './instruments.js'

/**
 * What the write path reports as it works, so that it knows nothing of metrics: the one object
 * plugins/app/events/write-path.ts calls. Every method is cheap and synchronous.
 */
export interface WriteObserver {
  /** A bulk insert of this many events is starting. */
  batchStarted: (events: number) => void
  /** Events settled, by outcome. */
  settled: (outcomes: ReadonlyArray<{ status: 'created' | 'duplicate' | 'error' }>) => void
  /** Events refused because the queue was full. */
  refused: (events: number) => void
}

export function writeObserverFor (metrics: AuditMetrics): WriteObserver {
  return {
    batchStarted: (events) => metrics.batchSize.observe(events),
    settled: (outcomes) => {
      let created = 0
      let duplicate = 0
      let error = 0
      for (const outcome of outcomes) {
        if (outcome.status === 'created') created++
        else if (outcome.status === 'duplicate') duplicate++
        else error++
      }
      if (created > 0) metrics.events.inc({ outcome: 'created' }, created)
      if (duplicate > 0) metrics.events.inc({ outcome: 'duplicate' }, duplicate)
      if (error > 0) metrics.events.inc({ outcome: 'error' }, error)
    },
    refused: (events) => metrics.ingestRefusals.inc(events)
  }
}
