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
  action?: 'reset' | 'read'
  stats?: LoopDelayStats
}
