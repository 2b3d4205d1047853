import type { FastifyBaseLogger } from 'fastify'
import { Gauge, type Registry } from 'prom-client'

/** What readiness carries while a tenant's stored log contradicts what the signer recorded. */
export interface IntegrityViolation {
  code: 'INTEGRITY_VIOLATION'
  tenant: string
  message: string
  detected_at: string
  /** The newest checkpoint the signer recorded for the tenant, when the contradiction is with it. */
  signed_size?: number
  /** The size of the tree the database holds (or the seq where the contradiction was found). */
  database_size?: number
}

/**
 * The alarm of the integrity wing: raised when the database's log contradicts the signer's record (a
 * rewritten or truncated history, a back-dated event, a policy written without its log entry). While it
 * is raised for a tenant the service signs nothing for that tenant; ingest goes on, since receipts stay valid
 * evidence. Raised per replica, from what that replica found; it holds until the process restarts, and a
 * restarted replica finds the contradiction again at its first signing round.
 */
export class IntegrityAlarm {
  private readonly raised = new Map<string, IntegrityViolation>()

  constructor (private readonly log?: FastifyBaseLogger, registry?: Registry) {
    if (registry !== undefined) {
      const raised = this.raised
      // eslint-disable-next-line no-new -- registered on the app's registry, read at scrape time
      new Gauge({
        name: 'auditlog_integrity_violations',
        help: 'Tenants whose stored log contradicts what the signer recorded: nothing is signed for them until an operator acts.',
        registers: [registry],
        collect () {
          this.set(raised.size)
        }
      })
    }
  }

  /** Raises the alarm for the tenant (once: the first contradiction found is the one reported). */
  raise (violation: Omit<IntegrityViolation, 'code' | 'detected_at'>): void {
    if (this.raised.has(violation.tenant)) return
    const full: IntegrityViolation = { code: 'INTEGRITY_VIOLATION', detected_at: new Date().toISOString(), ...violation }
    this.raised.set(violation.tenant, full)
    this.log?.error(full, `INTEGRITY VIOLATION in tenant ${violation.tenant}: ${violation.message}`)
  }

  isRaised (tenant: string): boolean {
    return this.raised.has(tenant)
  }

  get violations (): IntegrityViolation[] {
    return [...this.raised.values()]
  }
}
