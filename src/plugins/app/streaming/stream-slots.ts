import { StreamCapacityError } from '../../../errors.js'

/** Open streams per tenant and per instance: a stream holds a connection and a follower for as long as its client wants. */
export class StreamSlots {
  private open = 0
  private readonly byTenant = new Map<string, number>()

  constructor (private readonly perTenant: number, private readonly perInstance: number) {}

  get active (): number {
    return this.open
  }

  /** Takes a slot or throws 503 STREAM_CAPACITY; the returned function gives it back (once). */
  take (tenant: string): () => void {
    const own = this.byTenant.get(tenant) ?? 0
    if (this.open >= this.perInstance || own >= this.perTenant) throw new StreamCapacityError()
    this.open++
    this.byTenant.set(tenant, own + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.open--
      const left = (this.byTenant.get(tenant) ?? 1) - 1
      if (left === 0) this.byTenant.delete(tenant)
      else this.byTenant.set(tenant, left)
    }
  }
}
