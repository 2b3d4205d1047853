import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDatabase } from './database.js'
import { medianTime } from './stats.js'
import { MerkleTrees } from '../src/plugins/app/integrity/tree.js'
import { Checkpoints } from '../src/plugins/app/integrity/checkpoints.js'
import { loadSigningKeys } from '../src/plugins/app/integrity/signing-key.js'
import { SignerState } from '../src/plugins/app/integrity/signer-state.js'
import { IntegrityAlarm } from '../src/plugins/app/integrity/integrity-alarm.js'
import { signerStateFile } from '../src/plugins/app/integrity/merkle-log.js'

/**
 * Proof, consistency and checkpoint latency against trees of 1,000, 100,000 and 1,000,000 leaves, on the
 * database the benchmarks use (the embedded FerretDB unless BENCH_MONGODB_URL is set). The trees are built
 * through the service's own tree code from random leaves, without events: no read here touches the event
 * log, whatever its size. Each figure is the median of 30 calls, and a ratio to one read of a one-document
 * collection measured in the same run.
 * `npx tsx bench/proofs.ts`
 */
const SIZES = [1_000, 100_000, 1_000_000]
const REPS = 30

const database = await startDatabase(() => {})
const db = database.client.db('bench_proofs')
await db.dropDatabase()
const keyFile = join(mkdtempSync(join(tmpdir(), 'bench-key-')), 'key.pem')
writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }))
const trees = new MerkleTrees(db)
await trees.ensureIndexes()
const signer = new SignerState(signerStateFile(keyFile), db.databaseName)
const checkpoints = new Checkpoints(db, trees, loadSigningKeys({ keyFile, retiredFiles: [] }).keys, signer, new IntegrityAlarm(), 0, 'bench.example')
await checkpoints.ensureIndexes()
await db.collection('one').insertOne({ _id: 'x' as never })

async function median (call: () => Promise<unknown>): Promise<number> {
  return await medianTime(REPS, call)
}

console.log(`# ${database.description}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
console.log(
  '| leaves | build (s) | one-document read (ms) | newest checkpoint | checkpoint by size | inclusion proof | consistency proof | tile |'
)
console.log('|---|---|---|---|---|---|---|---|')
let head = await trees.head('bench')
for (const size of SIZES) {
  const started = performance.now()
  while (head.size < size) {
    head = await trees.append(
      head,
      Array.from({ length: Math.min(50_000, size - head.size) }, () => randomBytes(32))
    )
  }
  await checkpoints.signDue()
  const build = (performance.now() - started) / 1000
  const unit = await median(async () => await db.collection('one').findOne({ _id: 'x' as never }))
  const random = (n: number) => 1 + Math.floor(Math.random() * n)
  const figures = [
    await median(async () => await checkpoints.newest('bench')),
    await median(async () => await checkpoints.at('bench', size)),
    await median(async () => { const view = await trees.view('bench'); await view.inclusionProof(random(size) - 1, size) }),
    await median(async () => { const view = await trees.view('bench'); await view.consistencyProof(random(size), size) }),
    await median(async () => { const view = await trees.view('bench'); await view.tile(0, Math.floor((random(size) - 1) / 256)) })
  ]
  console.log(
    `| ${size.toLocaleString('en')} | ${build.toFixed(1)} | ${unit.toFixed(2)} | ${figures.map((ms) => `${ms.toFixed(1)} ms (${(ms / unit).toFixed(1)}×)`).join(' | ')} |`
  )
}
console.log(
  `# tiles stored: ${await db.collection('merkle_tiles').countDocuments()}, heads: ${await db.collection('merkle_heads').countDocuments()}`
)
await db.dropDatabase()
await database.stop()
