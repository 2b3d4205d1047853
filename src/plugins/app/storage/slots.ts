/**
 * Operations running at once, bounded per tenant and per instance, refused at once beyond: open streams
 * (streaming/event-streams). Reads of the event log are admitted by weight, with a fair queue, in
 * http/scan-admission. A counter in memory, per replica: each replica bounds its own load.
 */
export class SlotCounter {
  private open = 0
  private readonly byTenant = new Map<string, number>()

  /** `refusal` makes the error thrown when no slot is free (a 503 with Retry-After, coded for what is bounded). */
  constructor (private readonly perTenant: number, private readonly perInstance: number, private readonly refusal: () => Error) {}

  get active (): number {
    return this.open
  }

  /** Takes a slot for the tenant or throws the refusal; the returned function gives it back (once). */
  take (tenant: string): () => void {
    const own = this.byTenant.get(tenant) ?? 0
    if (this.open >= this.perInstance || own >= this.perTenant) throw this.refusal()
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
