import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/**
 * CPU time each process spent during a run (from /proc/<pid>/stat), per event. On a 2-core machine the
 * three processes of a service run (load generator, service, database) share the same cores, so their
 * CPU cost per event bounds the throughput: at most cores × 1000 / (sum of ms per event) events/s.
 */
export interface CpuPerEvent {
  /** ms of CPU per event: the service child (absent for the reference harness, which has none). */
  service?: number
  database?: number
  /** The bench process: autocannon, or the driver calls of the reference harness. */
  client: number
}

let ticksPerSecond: number | undefined
function clockTicks (): number {
  if (ticksPerSecond === undefined) {
    try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100 } catch { ticksPerSecond = 100 }
  }
  return ticksPerSecond
}

/** utime + stime of a process in ms; NaN if it cannot be read (not Linux, or gone). */
export function processCpuMs (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name may hold spaces: fields are counted from after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1000 / clockTicks()
  } catch {
    return Number.NaN
  }
}

export function startCpuMeter (pids: { service?: number, database?: number }): { stop: (events: number) => CpuPerEvent } {
  const client = process.cpuUsage()
  const service = pids.service === undefined ? undefined : processCpuMs(pids.service)
  const database = pids.database === undefined ? undefined : processCpuMs(pids.database)
  return {
    stop: (events) => {
      const used = process.cpuUsage(client)
      const per = (ms: number) => events > 0 ? ms / events : Number.NaN
      const result: CpuPerEvent = { client: per((used.user + used.system) / 1000) }
      if (service !== undefined && pids.service !== undefined) result.service = per(processCpuMs(pids.service) - service)
      if (database !== undefined && pids.database !== undefined) result.database = per(processCpuMs(pids.database) - database)
      return result
    }
  }
}
