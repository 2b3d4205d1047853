/**
 * The part of autocannon's programmatic API the benchmarks use (autocannon 8 ships no types, and
 * @types/autocannon would be one more dependency for a dev-only script).
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  interface AutocannonRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest
    /** Called with every answer's status and body (autocannon then keeps each body until it is answered). */
    onResponse?: (status: number, body: string, context: Record<string, unknown>) => void
  }

  interface AutocannonOptions {
    url: string
    connections?: number
    pipelining?: number
    /** Seconds; ignored when `amount` is set. */
    duration?: number
    /** Total requests across all connections; the run ends once every one has been answered. */
    amount?: number
    /** Seconds before an unanswered request counts as a timeout (and its connection is reset). */
    timeout?: number
    headers?: Record<string, string>
    requests?: AutocannonRequest[]
    sampleInt?: number
  }

  interface AutocannonResult {
    errors: number
    timeouts: number
    non2xx: number
    resets: number
    '1xx': number
    '2xx': number
    '3xx': number
    '4xx': number
    '5xx': number
    statusCodeStats: Record<string, { count: number }>
  }

  interface Instance extends EventEmitter, PromiseLike<AutocannonResult> {
    stop: () => void
    on: ((event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void) => this) &
      ((event: 'start' | 'done', listener: (...args: unknown[]) => void) => this)
  }

  function autocannon (options: AutocannonOptions): Instance
  export = autocannon
}
