import { ApiError, request, type ApiEvent } from './api.js'

/**
 * Follows the events of the current search as they arrive, through GET /events/stream (read with fetch: an
 * EventSource cannot send the token). While the person reads (`pause`), the stream is closed; `resume` opens it
 * again after the last seq received, so the service replays what came meanwhile and nothing is lost or doubled.
 * A stream the service ends (`event: end`: its token expiring, a full buffer) is opened again from where it said.
 */
export class LiveTail {
  private controller: AbortController | null = null
  private params: URLSearchParams | null = null
  private lastSeq: number | undefined
  private paused = false

  constructor (
    private readonly deliver: (events: ApiEvent[]) => void,
    private readonly say: (text: string) => void
  ) {}

  get following (): boolean { return this.params !== null }

  /** Follows the search's filters after `afterSeq` (the newest seq shown), or from now on. */
  start (filters: URLSearchParams, afterSeq: number | undefined): void {
    this.stop()
    const params = new URLSearchParams(filters)
    // a live tail is about what arrives from now on: the range of the search does not bound it
    params.delete('timeStart')
    params.delete('timeEnd')
    this.params = params
    this.lastSeq = afterSeq
    if (!this.paused) this.open()
  }

  stop (): void {
    this.controller?.abort()
    this.controller = null
    this.params = null
    this.say('')
  }

  pause (): void {
    if (this.paused) return
    this.paused = true
    if (this.params === null) return
    this.controller?.abort()
    this.controller = null
    this.say(`Live: paused while you read${this.lastSeq === undefined ? '' : `; resumes after seq ${this.lastSeq}`}`)
  }

  resume (): void {
    if (!this.paused) return
    this.paused = false
    if (this.params !== null) this.open()
  }

  private open (): void {
    const params = new URLSearchParams(this.params ?? undefined)
    if (this.lastSeq !== undefined) params.set('afterSeq', String(this.lastSeq))
    const controller = new AbortController()
    this.controller = controller
    this.say('Live: following new events')
    this.read(params, controller).catch((err: unknown) => {
      if (controller.signal.aborted) return
      this.say(`Live: stopped (${err instanceof ApiError ? err.describe() : String(err)}); asking again in 5 s`)
      setTimeout(() => { if (this.controller === controller && !controller.signal.aborted) this.open() }, 5000)
    })
  }

  private async read (params: URLSearchParams, controller: AbortController): Promise<void> {
    const response = await request(`/events/stream?${params.toString()}`, { signal: controller.signal, headers: { accept: 'text/event-stream' } })
    if (response.body === null) throw new Error('the stream has no body')
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      const batch: ApiEvent[] = []
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = parseMessage(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        if (message.event === 'end') {
          const { resume_after_seq: resumeAfter } = JSON.parse(message.data) as { resume_after_seq?: number }
          if (typeof resumeAfter === 'number') this.lastSeq = resumeAfter
        } else if (message.data !== '' && message.id !== undefined) {
          batch.push(JSON.parse(message.data) as ApiEvent)
          this.lastSeq = Number(message.id)
        }
      }
      if (batch.length > 0 && this.controller === controller) this.deliver(batch)
    }
    // the service ended the stream (and said where to resume): follow on, unless the person stopped or paused
    if (this.controller === controller) setTimeout(() => { if (this.controller === controller) this.open() }, 1000)
  }
}

/** One Server-Sent Events message: its `event`, `id` and `data` fields (comments and `retry` ignored). */
function parseMessage (block: string): { event: string, id?: string, data: string } {
  const message: { event: string, id?: string, data: string } = { event: 'message', data: '' }
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const field = line.slice(0, colon)
    const value = line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') message.event = value
    else if (field === 'id') message.id = value
    else if (field === 'data') message.data += value
  }
  return message
}
