import { generateKeyPairSync, sign } from 'node:crypto'
import { loadavg } from 'node:os'
import { receiptStatement, signReceipts, type ReceiptStatement } from '../src/verifier/receipt.js'

/**
 * `npx tsx bench/receipts.ts`: the CPU a signed receipt costs per event, by construction: one Ed25519
 * signature per event, against one per bulk write over the Merkle root of its statements with each
 * event's path (what the service does, src/verifier/receipt.ts), at the batch sizes W1's group commit
 * makes. CPU time of this process (process.cpuUsage), so another process on the core weighs less.
 */
const { privateKey } = generateKeyPairSync('ed25519')
const signer = (message: Buffer) => sign(null, message, privateKey).toString('base64')
const EVENTS = 20_000

function statements (count: number, from: number): ReceiptStatement[] {
  return Array.from({ length: count }, (_, i) => ({
    tenant: 'bench-tenant',
    seq: from + i,
    leaf_hash: 'ab'.repeat(32),
    timestamp: new Date(1_765_000_000_000 + from + i).toISOString()
  }))
}

function cpuMicrosPerEvent (run: () => void): number {
  run() // warm
  const before = process.cpuUsage()
  for (let done = 0; done < 3; done++) run()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / (3 * EVENTS)
}

const rows: string[] = []
const perEvent = cpuMicrosPerEvent(() => {
  for (const statement of statements(EVENTS, 1)) signer(receiptStatement(statement))
})
rows.push(`| one signature per event | ${perEvent.toFixed(1)} | 0 |`)
for (const batch of [1, 10, 50, 200, 1000]) {
  let pathLength = 0
  const micros = cpuMicrosPerEvent(() => {
    for (let first = 1; first <= EVENTS; first += batch) {
      const receipts = signReceipts(statements(batch, first), '0123456789abcdef', signer)
      pathLength = receipts.at(-1)?.batch_path.length ?? 0
    }
  })
  rows.push(`| one per bulk write of ${batch} | ${micros.toFixed(1)} | ${pathLength} |`)
}
process.stdout.write(
  [
    `load average ${loadavg().map((load) => load.toFixed(1)).join(' ')}`,
    '',
    '| construction | CPU µs per event | hashes in the last receipt\'s path |',
    '|---|---:|---:|',
    ...rows,
    ''
  ].join('\n')
)
