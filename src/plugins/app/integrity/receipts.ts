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
 * promised is never given to another event, even after the database lost events. The record is written as
 * soon as the bulk write's seqs are claimed (they are in the database's claims by then, so the sequencer's
 * floor never passes them), and its flush runs while the database writes the events: the seal then finds it
 * done. When the record cannot be written, the answers go out without receipts (the events are stored; a 5xx
 * would only make clients send them again), and the failure is logged.
 */
export function receiptSealer (keys: SigningKeys, state: SignerState, log: FastifyBaseLogger): Sealer {
  const record = new RecordCoalescer(state)
  const claimed = (tenant: string, last: number): void => {
    // the seal waits for the same write and reports its failure
    record.cover(tenant, last).catch(() => {})
  }
  return { claimed, seal: sealReceipts }
  async function sealReceipts (tenants: string[], outcomes: WriteOutcome[]): Promise<void> {
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
  private readonly running = new Map<string, Group>()
  private readonly next = new Map<string, Group>()

  constructor (private readonly state: SignerState) {}

  async cover (tenant: string, seq: number): Promise<void> {
    if (this.state.covers(tenant, seq)) return
    const running = this.running.get(tenant)
    if (running !== undefined && running.seq >= seq) return await running.done
    const queued = this.next.get(tenant)
    if (queued !== undefined) {
      queued.seq = Math.max(queued.seq, seq)
      return await queued.done
    }
    const group: Group = { seq, done: Promise.resolve() }
    this.next.set(tenant, group)
    group.done = (running?.done ?? Promise.resolve()).catch(() => {}).then(async () => {
      // from here on, later seals form the next group
      if (this.next.get(tenant) === group) this.next.delete(tenant)
      this.running.set(tenant, group)
      try {
        await this.state.coverReceipts(tenant, group.seq)
      } finally {
        if (this.running.get(tenant) === group) this.running.delete(tenant)
      }
    })
    return await group.done
  }
}

interface Group {
  seq: number
  done: Promise<void>
}

async function receiptsPlugin (fastify: FastifyInstance, options: ReceiptsOptions) {
  if (options.enabled) fastify.eventWriter.sealWith(receiptSealer(fastify.signingKeys, fastify.signerState, fastify.log))
}

export default fp(receiptsPlugin, { fastify: '5.x', name: 'receipts', dependencies: ['event-writer', 'merkle-log'] })
