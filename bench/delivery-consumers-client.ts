import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { ConsumerCommand, ConsumerReply } from './delivery-consumers.js'
import { PROJECT_ROOT } from './service.js'

/** The parent's side of bench/delivery-consumers.ts: one child process, commands answered over IPC. */
export class DeliveryConsumers {
  private readonly child: ChildProcess
  private readonly pending = new Map<number, { resolve: (reply: ConsumerReply) => void, reject: (err: Error) => void }>()
  private next = 0
  private readonly exited: Promise<void>
  /** The child says so once its IPC listener is in place: a message sent before would be lost. */
  private readonly ready: Promise<void>

  constructor () {
    this.child = spawn(process.execPath, ['--import', 'tsx', join('bench', 'delivery-consumers.ts')], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()))
    this.ready = new Promise((resolve, reject) => {
      this.child.once('message', () => resolve())
      this.child.once('exit', () => reject(new Error('the delivery consumers exited before they were ready')))
    })
    this.ready.catch(() => {})
    this.child.on('message', (message: { id: number, reply?: ConsumerReply, error?: string }) => {
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (message.error !== undefined) waiting?.reject(new Error(`delivery consumers: ${message.error}`))
      else waiting?.resolve(message.reply as ConsumerReply)
    })
    this.child.once('exit', () => { for (const { reject } of this.pending.values()) reject(new Error('the delivery consumers exited')) })
  }

  get pid (): number {
    return this.child.pid as number
  }

  async ask<T extends ConsumerReply['type']> (command: ConsumerCommand): Promise<Extract<ConsumerReply, { type: T }>> {
    await this.ready
    const id = ++this.next
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (reply: ConsumerReply) => void, reject })
      this.child.send({ id, command })
    })
  }

  async stop (): Promise<void> {
    if (this.child.exitCode !== null) return
    await this.ask<'ok'>({ type: 'close' }).catch(() => {})
    this.child.disconnect()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await this.exited
    clearTimeout(timer)
  }
}
