import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Sealer, WriteOutcome } from '../events/event-writer.js'
import { groupByTenant } from '../events/record.js'
import { signReceipts, type ReceiptStatement } from '../../../verifier/receipt.js'
import type { SigningKeys } from './signing-key.js'
import type { SignerState } from './signer-state.js'

export interface ReceiptsOptions {
  /** INGEST_RECEIPTS: off, answers carry no receipt (kept for measuring what receipts cost). */
  enabled: boolean
}

type Receiptable = Exclude<WriteOutcome, { status: 'error' }> & { seq: number, timestamp: Date, hash: string }

/**
 * Signs the receipts of one bulk write: per tenant, one Ed25519 signature over the Merkle root of its
 * statements (src/verifier/receipt.ts), each outcome given its own path. One signature per bulk write and
 * tenant, not per event: at W1's batch sizes that is a fifth of the CPU (BENCHMARKS.md, "Receipts").
 *
 * Before any receipt is handed out, the signer's record (outside the database) covers its seq: a seq once
 * promised is never given to another event, even after the database lost events. When that record cannot
 * be written, the answers go out without receipts (the events are stored; a 5xx would only make clients
 * send them again), and the failure is logged.
 */
export function receiptSealer (keys: SigningKeys, state: SignerState, log: FastifyBaseLogger): Sealer {
  const record = new RecordCoalescer(state)
  return async function sealReceipts (tenants, outcomes) {
    const receiptable = outcomes.flatMap((outcome, i) =>
      outcome.status !== 'error' && outcome.seq !== undefined && outcome.timestamp !== undefined && outcome.hash !== undefined
        ? [{ tenant: tenants[i] as string, outcome: outcome as Receiptable }]
        : []
    )
    await Promise.all(
      [...groupByTenant(receiptable, (item) => item.tenant)].map(async ([tenant, own]) => {
        try {
          await record.cover(tenant, own.reduce((highest, { outcome }) => Math.max(highest, outcome.seq), 0))
        } catch (err) {
          log.error({ err, tenant }, 'the signer could not record the receipted seqs; answering without receipts')
          return
        }
        const statements: ReceiptStatement[] = own.map(({ outcome }) => ({
          tenant,
          seq: outcome.seq,
          leaf_hash: outcome.hash,
          timestamp: outcome.timestamp.toISOString()
        }))
        const receipts = signReceipts(statements, keys.current.key_id, (message) => keys.sign(message))
        own.forEach(({ outcome }, n) => {
          outcome.receipt = receipts[n]
        })
      })
    )
  }
}

/**
 * Group commit for the signer's record: while one write of a tenant's mark is on its way to disk, the seals
 * that need a higher mark wait together and then share one write of the highest of them, so bulk writes
 * that come faster than the disk flushes cost one flush per round, not one each.
 */
class RecordCoalescer {
  private readonly running = new Map<string, Promise<void>>()
  private readonly next = new Map<string, { seq: number, done: Promise<void> }>()

  constructor (private readonly state: SignerState) {}

  async cover (tenant: string, seq: number): Promise<void> {
    if (this.state.receiptedThrough(tenant) >= seq) return
    const queued = this.next.get(tenant)
    if (queued !== undefined) {
      queued.seq = Math.max(queued.seq, seq)
      return await queued.done
    }
    const group = { seq, done: Promise.resolve() }
    this.next.set(tenant, group)
    group.done = (this.running.get(tenant) ?? Promise.resolve()).catch(() => {}).then(async () => {
      // from here on, later seals form the next group
      this.next.delete(tenant)
      const run = this.state.coverReceipts(tenant, group.seq)
      this.running.set(tenant, run)
      try {
        await run
      } finally {
        if (this.running.get(tenant) === run) this.running.delete(tenant)
      }
    })
    return await group.done
  }
}

async function receiptsPlugin (fastify: FastifyInstance, options: ReceiptsOptions) {
  if (options.enabled) fastify.eventWriter.sealWith(receiptSealer(fastify.signingKeys, fastify.signerState, fastify.log))
}

export default fp(receiptsPlugin, { fastify: '5.x', name: 'receipts', dependencies: ['event-writer', 'merkle-log'] })
