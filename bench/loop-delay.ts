/** What bench/loop-delay-probe.mjs, inside the service child, and the bench say to each other. */
export interface LoopDelayStats {
  /** Milliseconds, from a 10 ms-resolution timer. */
  p50: number
  p99: number
  max: number
  mean: number
  samples: number
}

export interface LoopDelayMessage {
  type: 'bench:loop-delay'
  id: number
  action?: 'reset' | 'read' | 'memory' | 'heap-snapshot'
  stats?: LoopDelayStats
  /** Answer to `memory`: the service's process.memoryUsage(). */
  memory?: NodeJS.MemoryUsage
  /** `heap-snapshot`: where to write it (asked), where it was written (answered). */
  file?: string
}
