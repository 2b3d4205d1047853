import t from 'tap'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MongoClient, type Db } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { bearer, build, MONGODB_URL, sampleEvent, TEST_SIGNING_KEY_FILE, testDatabaseName, userWithToken } from '../helper.js'
import { findCosignature, parseWitnessKey } from '../../src/verifier/cosignature.js'
import { keyIdOf, parseNote } from '../../src/verifier/signed-note.js'
import { logOrigin } from '../../src/verifier/tlog-checkpoint.js'
import { leafHash } from '../../src/verifier/leaf.js'
import { toPublicEvent, type StoredEvent } from '../../src/plugins/app/events/record.js'
import { signerStateFile } from '../../src/plugins/app/integrity/merkle-log.js'
import type { Checkpoint } from '../../src/verifier/checkpoint.js'
import { LITEWITNESS_SCRIPT, startLitewitness, type Litewitness } from '../../scripts/litewitness.js'

/**
 * Witnessing against litewitness (filippo.io/torchwood), a C2SP witness nobody here wrote, started by
 * scripts/litewitness.sh with its key in its own ssh-agent: the service's checkpoints get its cosignature, and a
 * history rewritten by someone holding the host (the database, and the signer's record deleted) is refused by it.
 */
const ORIGIN = 'audit-log.test'
const cli = join(import.meta.dirname, '../../src/verifier/cli.ts')
/** A witness key nobody holds: its cosignature is never there. */
const otherWitnessKey = 'witness.test/w2+' + keyIdOf('witness.test/w2', 4, Buffer.alloc(32, 7)).toString('hex') + '+' + Buffer.concat([Buffer.from([4]), Buffer.alloc(32, 7)]).toString('base64')

const go = spawnSync('go', ['version'])
if (go.error !== undefined || go.status !== 0) {
  t.plan(0, 'Go is not installed: litewitness cannot be built (CI has Go; see scripts/litewitness.sh)')
} else {
  const installed = spawnSync('bash', [LITEWITNESS_SCRIPT, 'install'], { encoding: 'utf8' })
  if (installed.status !== 0) throw new Error(`scripts/litewitness.sh install failed: ${installed.stderr}`)
  run()
}

async function until<T> (what: string, probe: () => Promise<T | undefined>, ms = 30000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function run (): void {
  let witness: Litewitness
  let app: FastifyInstance
  let db: Db
  const config = (): Record<string, string | number> => ({
    SEQUENCE_FOLD_MS: 20,
    CHECKPOINT_INTERVAL_MS: 100,
    AUDIT_LOG_ORIGIN: ORIGIN,
    WITNESSES: JSON.stringify([{ url: witness.url, vkey: witness.vkey }]),
    WITNESS_ALLOW_HOSTS: '127.0.0.1',
    WITNESS_RETRY_BASE_MS: 50,
    WITNESS_RETRY_MAX_MS: 500
  })

  t.before(async () => {
    witness = await startLitewitness('witness.test/w1')
    t.teardown(() => witness.stop())
    app = await build(t, { config: config() })
    const client = new MongoClient(MONGODB_URL)
    t.teardown(() => client.close())
    db = client.db(testDatabaseName)
  })

  /** Tells the witness the tenant's log: its origin and the service's key, named by the origin (witnessctl). */
  function witnessKnows (tenant: string): void {
    witness.addLog(logOrigin(ORIGIN, tenant), Buffer.from(app.signingKeys.current.public_key, 'base64'))
  }

  /** What the witness itself recorded for the log (witnessctl list-logs). */
  function witnessSizeOf (tenant: string): number {
    const logs = execFileSync(join(import.meta.dirname, '../../.tools/go/bin/witnessctl'), ['list-logs', '-db', join(witness.dir, 'witness.db')], { encoding: 'utf8' })
    const log = logs.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { origin: string, size: number })
      .find((entry) => entry.origin === logOrigin(ORIGIN, tenant))
    return log?.size ?? -1
  }

  async function tenantWithEvents (tenant: string, events: number, known = true): Promise<{ writer: string, reader: string }> {
    if (known) witnessKnows(tenant)
    const writer = await userWithToken(app, { username: `${tenant}-w`, roles: ['writer'], tenant })
    const reader = await userWithToken(app, { username: `${tenant}-r`, roles: ['reader'], tenant })
    await ingest(writer, events)
    return { writer, reader }
  }

  async function ingest (writer: string, count: number): Promise<void> {
    const events = Array.from({ length: count }, (_, i) => sampleEvent({ event_specificdetails: { n: i } }))
    const res = await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events } })
    if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`ingest answered ${res.statusCode}: ${res.body}`)
  }

  /** The newest checkpoint once the witness has cosigned one of at least `size` leaves, as the service serves it. */
  async function witnessedCheckpoint (tenant: string, size: number): Promise<{ checkpoint: Checkpoint & { note: string }, served: Awaited<ReturnType<FastifyInstance['witnessing']['serve']>> }> {
    return await until(`a witnessed checkpoint of ${size}`, async () => {
      const checkpoint = await app.checkpoints.newest(tenant) as (Checkpoint & { note?: string }) | null
      if (checkpoint?.note === undefined || checkpoint.tree_size < size) return undefined
      const served = await app.witnessing.serve(checkpoint as Checkpoint & { note: string })
      return served.witnessed ? { checkpoint: checkpoint as Checkpoint & { note: string }, served } : undefined
    })
  }

  t.test("the service's checkpoints get litewitness's cosignature, and it follows the log as it grows", async (t) => {
    const { writer, reader } = await tenantWithEvents('witnessed', 10)
    const first = await witnessedCheckpoint('witnessed', 10)
    const note = parseNote(first.served.note)
    t.equal(note.signatures.length, 2, "the note carries the log's signature and the witness's cosignature")
    const cosignature = findCosignature(note.text, note.signatures, parseWitnessKey(witness.vkey))
    t.ok(cosignature, "the cosignature verifies against the witness's vkey")
    t.same(first.served.cosignatures.map((c) => c.witness), ['witness.test/w1'], 'who cosigned')
    t.equal(witnessSizeOf('witnessed'), first.checkpoint.tree_size, 'the witness recorded the size it cosigned')

    const res = await app.inject({ method: 'GET', url: `/integrity/checkpoint?tree_size=${first.checkpoint.tree_size}`, headers: bearer(reader) })
    t.equal(res.statusCode, 200)
    t.equal(res.json().witnessed, true, 'the JSON route says witnessed')
    t.same(res.json().cosignatures.map((c: { witness: string }) => c.witness), ['witness.test/w1'])
    t.equal(res.json().note, first.served.note, "its note carries the witness's cosignature line")

    await ingest(writer, 7)
    const second = await witnessedCheckpoint('witnessed', 17)
    t.ok(second.checkpoint.tree_size > first.checkpoint.tree_size, 'a larger checkpoint was cosigned: the witness checked our consistency proof')
    t.equal(witnessSizeOf('witnessed'), second.checkpoint.tree_size)
    t.match(await app.metrics.registry.metrics(), /auditlog_witness_cosignatures_total\{witness="witness.test\/w1"\} [1-9]/)
    t.match(await app.metrics.registry.metrics(), /auditlog_witness_lag_entries\{witness="witness.test\/w1"\} \d/)

    // the auditor's verifier with a witness policy: the witness's key and a quorum
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    const policy = join(witness.dir, 'policy.json')
    writeFileSync(policy, JSON.stringify({ witnesses: [{ vkey: witness.vkey }], quorum: 1 }))
    // run beside the app, which must go on answering it (a synchronous spawn would block this process's server)
    type Run = { status: number | null, stdout: string, stderr: string }
    const verify = async (file: string): Promise<Run> => await new Promise((resolve) => {
      const args = ['--import=tsx', cli, '--url', address, '--token', reader, '--witness-policy', file, '--wait-ms', '3000']
      const child = spawn(process.execPath, args)
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
      child.on('close', (status) => resolve({ status, stdout, stderr }))
    })
    const passed = await verify(policy)
    t.equal(passed.status, 0, `npm run verify -- --witness-policy passes: ${passed.stdout}${passed.stderr}`)
    t.match(passed.stdout, /witnessed: 1 of the policy's 1 witnesses cosigned tree size \d+ \(witness\.test\/w1 at /)
    const stricter = join(witness.dir, 'policy-2.json')
    writeFileSync(stricter, JSON.stringify({ witnesses: [{ vkey: witness.vkey }, { vkey: otherWitnessKey }], quorum: 2 }))
    const refused = await verify(stricter)
    t.equal(refused.status, 1, 'a policy the checkpoint does not meet: exit 1')
    t.match(refused.stdout, /FAILED: not witnessed: 1 of the policy's 2 witnesses .*the quorum is 2/)
  })

  t.test('a witness that refuses (it does not know the log) shows in readiness, per witness, and the checkpoint is not witnessed', async (t) => {
    const { reader } = await tenantWithEvents('unknown-to-witness', 3, false)
    const warning = await until('the warning', async () => {
      const res = await app.inject({ method: 'GET', url: '/health/ready' })
      const warnings = (res.json().warnings ?? []) as Array<Record<string, unknown>>
      return warnings.find((warning) => warning.code === 'WITNESS_LAGGING')
    })
    t.equal(warning.witness, 'witness.test/w1')
    t.match(warning.message, /HTTP 403/, 'with what the witness answered')
    // readiness is public: the witness's address and the body of its answer stay in the service's log
    t.notMatch(warning.message, /127\.0\.0\.1|http:/, 'without the witness\'s address')
    t.ok((warning.lag_entries as number) >= 3, 'and by how much it lags')
    const res = await app.inject({ method: 'GET', url: '/integrity/checkpoint', headers: bearer(reader) })
    t.equal(res.json().witnessed, false, 'served as not yet witnessed')
    t.same(res.json().cosignatures, [])
  })

  t.test('a history rewritten by whoever holds the host (database and signer record) is refused by the witness, and the alarm is raised', async (t) => {
    const { writer } = await tenantWithEvents('compromised', 20)
    const cosigned = (await witnessedCheckpoint('compromised', 20)).checkpoint.tree_size
    // the attacker: stops the service, deletes the signer's record, rewrites events with their hashes, deletes the
    // tree, the checkpoints and what the service stored of the witness, and starts the service again
    await app.close()
    rmSync(signerStateFile(TEST_SIGNING_KEY_FILE), { force: true })
    for (const doc of await db.collection<StoredEvent>('events').find({ tenant: 'compromised', seq: { $gte: 3, $lte: 5 } }).toArray()) {
      doc.description = 'nothing happened here'
      await db.collection<StoredEvent>('events').updateOne({ _id: doc._id }, { $set: { description: doc.description, hash: leafHash(toPublicEvent(doc)) } })
    }
    for (const name of ['merkle_heads', 'merkle_tiles', 'merkle_checkpoints', 'merkle_checkpoint_heads', 'witness_heads']) {
      await db.collection(name).deleteMany({ tenant: 'compromised' })
    }
    // the last test: the restarted app is closed with it
    app = await build(t, { config: config() })
    await ingest(writer, 5)
    // with its record gone the service signs the rewritten tree; the witness remembers what it cosigned
    await until('a checkpoint of the rewritten tree', async () => ((await app.checkpoints.newest('compromised'))?.tree_size ?? 0) > cosigned ? true : undefined)
    const violation = await until('the alarm', async () => {
      const res = await app.inject({ method: 'GET', url: '/health/ready' })
      const warnings = (res.json().warnings ?? []) as Array<Record<string, unknown>>
      return warnings.find((warning) => warning.code === 'INTEGRITY_VIOLATION' && warning.tenant === 'compromised')
    })
    t.match(violation.message, /witness witness\.test\/w1 refused the checkpoint .* history was rewritten/, 'the alarm names the witness')
    t.equal(violation.signed_size, cosigned, 'and the size the witness had cosigned')
    t.equal(witnessSizeOf('compromised'), cosigned, 'the witness did not cosign the rewritten tree')
    const newest = await app.checkpoints.newest('compromised') as Checkpoint & { note: string }
    t.equal((await app.witnessing.serve(newest)).witnessed, false, 'the rewritten checkpoint is served as not witnessed')
    t.match(await app.metrics.registry.metrics(), /auditlog_witness_failures_total\{witness="witness.test\/w1",kind="inconsistent"\} [1-9]/)
  })
}
