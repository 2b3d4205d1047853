import { monitorEventLoopDelay } from 'node:perf_hooks'
import { writeHeapSnapshot } from 'node:v8'

/**
 * Loaded into the service child with `--import` (the service itself exposes nothing new). It samples
 * the event loop's delay and answers the bench over the IPC channel: `reset` at the start of a measured
 * run, `read` at its end (messages as in loop-delay.ts). Signals are not used: close-with-grace treats
 * SIGUSR2 as a shutdown. Plain JavaScript, so that it loads into the compiled service without tsx.
 * bench/memory.ts also asks it for `process.memoryUsage()` (`memory`) and a heap snapshot (`heap-snapshot`,
 * written to the path it names), to see what holds the service's RSS.
 */
const histogram = monitorEventLoopDelay({ resolution: 10 })
histogram.enable()

function snapshot () {
  const ms = (ns) => Math.round(ns / 1e4) / 100
  return {
    p50: ms(histogram.percentile(50)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    mean: ms(histogram.mean),
    samples: histogram.count
  }
}

if (process.send !== undefined) {
  process.on('message', function answerBench (message) {
    if (message?.type !== 'bench:loop-delay') return
    const reply = { type: 'bench:loop-delay', id: message.id }
    if (message.action === 'read') reply.stats = snapshot()
    else if (message.action === 'memory') reply.memory = process.memoryUsage()
    else if (message.action === 'heap-snapshot') reply.file = writeHeapSnapshot(message.file)
    else histogram.reset()
    process.send?.(reply)
  })
  // the channel must not keep the server alive once it has closed
  process.channel?.unref()
}
