import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'

/** What the numbers were measured on: they mean little without it. */
export interface MachineInfo {
  cpuModel: string
  cpus: number
  memoryGb: number
  node: string
  platform: string
  /** 1-minute load average when the run started: the machine is shared. */
  loadAverageAtStart: number
}

export function describeMachine (): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpus: availableParallelism(),
    memoryGb: Math.round(totalmem() / 1024 ** 3 * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100
  }
}
