import t from 'tap'
import { MongoClient } from 'mongodb'
import { checkSignature, type Checkpoint, type PublishedKey } from '../../src/verifier/checkpoint.js'
import { verifyConsistency } from '../../src/verifier/merkle.js'
import { WebhookReceiver } from '../fixtures/webhook-receiver.js'
import {
  compareWithDatabase,
  createWriterToken,
  eventIds,
  FAULT_TENANT,
  figuresLine,
  mixedClients,
  runClients,
  runDatabaseName,
  sequenceFigures,
  sequenceLine,
  sleep,
  startDatabase,
  startService,
  stopService,
  tally,
  writeReceivedAt,
  type Ledger,
  type ServiceProcess
} from './harness.js'

/**
 * Three service processes on one database, each with its own clients and a share of event_ids sent to all
 * three, while the retention sweeper expires an old prefix and a webhook delivers every event. Twice, at a
 * moment drawn from a seeded generator, one replica is killed with SIGKILL and started again on its port
 * (two replicas serve meanwhile): first the one that started alone (it created the webhook, so it holds its
 * delivery lease), while the sweep is under way, then one drawn at random. Afterwards:
 * - ingest: nothing acknowledged is lost or stored twice, no seq is shared, and every seq without an event
 *   is a hole the service recorded or the expired prefix;
 * - checkpoints: every checkpoint any replica signed verifies with the one published key, and each is
 *   consistent with the next (RFC 9162 proofs from the service): one tree, no fork;
 * - retention: the expired prefix is gone exactly, the horizon says where the log starts, nothing above it
 *   was deleted, and the log is complete;
 * - webhooks: every event arrived, the first arrival of each in seq order, every delivery signed.
 * FAULT_SEED=<n> repeats a run's kill moments and target.
 */
const SEED = Number(process.env.FAULT_SEED ?? 19)
const PER_REPLICA = 250
const SHARED = 100
const AGED = 20
const TOTAL = 3 * PER_REPLICA + SHARED

/** mulberry32: a small seeded generator, so a failing run's kill moments can be had again. */
function seeded (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

async function until (what: string, condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

t.test(
  'three replicas, two killed at seeded random moments: no event lost or sequenced twice, one signed tree, retention and webhooks carry on',
  async (t) => {
    const random = seeded(SEED)
    const began = Date.now()
    const phase = (what: string) => t.comment(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`)
    t.comment(`seed ${SEED} (FAULT_SEED=${SEED} repeats this run)`)
    const db = await startDatabase()
    t.teardown(() => db.stop())
    const database = runDatabaseName('replica_kills')
    const writer = await createWriterToken(db.url, database)
    const admin = await createWriterToken(db.url, database, ['admin', 'reader'], 'fault-admin')
    const receiver = new WebhookReceiver()
    const url = await receiver.start()
    t.teardown(() => receiver.stop())
    const env = {
      MONGODB_URL: db.url,
      MONGODB_DATABASE: database,
      // duplicates of the shared ids are looked up, and every lookup scans on FerretDB: not what this is about
      QUERY_MAX_TIME_MS: '60000',
      SEQUENCE_STALE_MS: '2000',
      SEQUENCE_FOLD_MS: '200',
      CHECKPOINT_INTERVAL_MS: '300',
      // one batch of 5 per round, a round every 2 s on whichever replica takes that slot's lease (the pause after
      // a batch outlasts the 1 s lease, so the round ends there): the 20 aged events take several rounds, and the
      // first kill comes while they are being expired
      RETENTION_SWEEP_INTERVAL_MS: '2000',
      RETENTION_LEASE_MS: '1000',
      RETENTION_BATCH_SIZE: '5',
      RETENTION_BATCH_PAUSE_MS: '1500',
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      WEBHOOK_SCAN_MS: '100',
      WEBHOOK_LEASE_MS: '1500',
      WEBHOOK_BATCH_MAX: '50',
      STREAM_POLL_MS: '50'
    }
    const call = async (
      service: ServiceProcess,
      method: string,
      path: string,
      body?: unknown,
      token = admin
    ): Promise<{ status: number; json: any }> => {
      const response = await fetch(`${service.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      return { status: response.status, json: await response.json() }
    }

    // the aged prefix (seqs 1..AGED), received two days back, stored before any replica runs
    const aged = await writeReceivedAt(
      db.url,
      database,
      Array.from({ length: AGED }, (_, i) => ({
        event_type: 'Aged',
        username: 'old',
        entitytype: 'probe',
        ip: '127.0.0.1',
        location: 'fault-test',
        description: `aged ${i}`,
        event_id: `aged-${i}`
      })),
      new Date(Date.now() - 2 * 86400_000)
    )
    t.same(aged, Array.from({ length: AGED }, (_, i) => i + 1), `the aged events hold seqs 1..${AGED}`)
    // A alone first: it takes the webhook and sweeper leases
    const replicas: ServiceProcess[] = [await startService(env)]
    t.teardown(() => Promise.all(replicas.map(stopService)))
    const direct = new MongoClient(db.url)
    t.teardown(() => direct.close())
    const events = direct.db(database).collection('events')
    const hook = await call(replicas[0]!, 'POST', '/tenant/webhooks', {
      url,
      start_after_seq: AGED,
      filter: { event_type: ['FaultProbe'] }
    })
    t.equal(hook.status, 201, 'webhook created')
    receiver.secret = hook.json.secret
    replicas.push(...(await Promise.all([startService(env), startService(env)])))
    phase('three replicas ready')
    t.equal(
      (await call(replicas[0]!, 'PUT', '/tenant/retention', { days: 1 })).status,
      200,
      'retention of one day: the aged prefix expires, from now on'
    )
    // the first kill must come mid-sweep: on a busy machine the sweeper's first round can come after a short
    // ingest has ended (CI, with the fuzzer beside it), so ingest starts once it has begun on the aged prefix
    await until('the sweep to begin', async () => (await events.countDocuments({ tenant: FAULT_TENANT, event_type: 'Aged' })) < AGED, 30000)

    // kill moments, as shares of all acknowledgements: replica 0 early (once the sweep has begun), then one drawn at random
    const firstKillAt = Math.floor(TOTAL * (0.05 + 0.1 * random()))
    const secondKillAt = Math.floor(TOTAL * (0.5 + 0.25 * random()))
    const secondTarget = Math.floor(random() * 3)
    t.comment(`kills after ${firstKillAt} (replica 0) and ${secondKillAt} (replica ${secondTarget}) acknowledgements`)
    const kills: Array<{ replica: number; at: number; agedLeft?: number; restartedInMs?: number }> = []
    let killing: Promise<void> = Promise.resolve()
    const acknowledged = new Set<string>()
    const killAndRestart = (replica: number): void => {
      const victim = replicas[replica]!
      const kill: (typeof kills)[number] = { replica, at: acknowledged.size }
      kills.push(kill)
      killing = killing.then(async () => {
        // how far the sweeper had got
        kill.agedLeft = await events.countDocuments({ tenant: FAULT_TENANT, event_type: 'Aged' })
        const started = Date.now()
        victim.child.kill('SIGKILL')
        await victim.exited
        // on the same port: its clients keep their URL and see refused connections meanwhile
        replicas[replica] = await startService(env, victim.port)
        Object.assign(kill, { restartedInMs: Date.now() - started })
      })
    }

    // the sweep's progress, looked at in the background: the first kill waits until it has begun
    let agedLeftNow = AGED
    const watch = { on: true }
    const watchSweep = (async () => {
      while (watch.on) {
        agedLeftNow = await events.countDocuments({ tenant: FAULT_TENANT, event_type: 'Aged' })
        await sleep(200)
      }
    })()

    const shared = eventIds('shared', SHARED)
    const ledgers = await Promise.all(
      replicas.map(
        async (replica, i) =>
          await runClients({
            baseUrl: replica.baseUrl,
            token: writer,
            eventIds: [...shared, ...eventIds(`replica-${i}`, PER_REPLICA)],
            clients: mixedClients(4, 1, 40),
            retryDelayMs: 50,
            onAttempt (_attempt, ledger) {
              for (const id of ledger.acknowledged.keys()) acknowledged.add(id)
              if (kills.length === 0 && acknowledged.size >= firstKillAt && agedLeftNow < AGED) killAndRestart(0)
              else if (kills.length === 1 && acknowledged.size >= secondKillAt) killAndRestart(secondTarget)
            }
          })
      )
    )
    await killing
    watch.on = false
    await watchSweep
    phase('ingest done, killed replicas back')
    const ledger: Ledger = {
      attempts: ledgers.flatMap((l) => l.attempts),
      acknowledged: new Map(ledgers.flatMap((l) => [...l.acknowledged]))
    }
    t.comment(`${ledger.attempts.length} attempts ${JSON.stringify(tally(ledger.attempts))}; kills ${JSON.stringify(kills)}`)
    t.equal(kills.length, 2, 'two replicas were killed mid-ingest')
    t.ok(
      (kills[0]?.agedLeft ?? 0) > 0 && (kills[0]?.agedLeft ?? AGED) < AGED,
      'the first kill came while the sweeper was expiring the aged prefix'
    )
    const live = replicas[(secondTarget + 1) % 3]!

    // ingest: nothing acknowledged lost, nothing stored twice
    const figures = await compareWithDatabase(db.url, database, ledger)
    t.comment(figuresLine(figures))
    t.equal(figures.acknowledged, TOTAL, 'every event acknowledged in the end')
    t.equal(figures.lost, 0, 'none lost')
    t.equal(figures.duplicated, 0, 'none stored twice, though three replicas got the shared ones')

    // retention: the sweeper finished the aged prefix across the kills, one replica at a time (its lease)
    await until(
      'the sweeper to expire the aged prefix',
      async () => (await events.countDocuments({ tenant: FAULT_TENANT, event_type: 'Aged' })) === 0,
      60000
    )
    await until(
      'the horizon above the aged prefix',
      async () => (await call(live, 'GET', '/tenant/retention')).json.horizon?.seq === AGED + 1,
      30000
    )
    phase('aged prefix expired')
    let completeness = await call(live, 'GET', '/integrity/completeness')
    // the killed replicas' unsettled claims are settled by a survivor once SEQUENCE_STALE_MS has passed
    await until(
      'every claimed seq settled',
      async () => (completeness = await call(live, 'GET', '/integrity/completeness')).json.in_flight === 0,
      30000
    )
    t.match(
      completeness.json,
      { complete: true, retention_horizon: { seq: AGED + 1 } },
      'complete: the prefix is expired by policy, nothing else is missing'
    )
    t.equal(completeness.json.holes.filter((hole: { reason: string }) => hole.reason === 'unexplained').length, 0, 'no unexplained hole')

    // sequence, straight from the database: the expired prefix, recorded holes, and nothing shared
    const sequence = await sequenceFigures(db.url, database, 0)
    t.comment(sequenceLine(sequence))
    t.equal(sequence.withoutSeq, 0, 'every stored event has a seq')
    t.equal(sequence.sharedSeqs, 0, 'no seq is held by two events')
    t.same(
      sequence.unrecordedHoles,
      Array.from({ length: AGED }, (_, i) => i + 1),
      'the only seqs without an event or a recorded hole are the expired prefix'
    )
    t.equal(sequence.unsettledClaims, 0, 'every claimed range is settled')
    // the admin's own changes (the webhook, the retention policy) are audit.admin.* events of the tenant
    const adminRecords = await events.countDocuments({ tenant: FAULT_TENANT, event_type: { $regex: '^audit\\.admin\\.' } })
    t.equal(sequence.events, figures.stored + adminRecords, 'the sequence counts every stored event')
    t.equal(
      sequence.highestSeq,
      AGED + sequence.events + sequence.recordedHoles,
      'seq runs 1..N over the expired prefix, events and recorded holes'
    )

    phase('sequence checked')
    // checkpoints: every one verifies with the one key, and each is a prefix of the next: no fork
    // a replica killed while it held a reservation of the signer's (docs/integrity.md, "The signer's record") leaves the
    // seqs it did not use to the next claim after the reservation ends, as reserved_by_signer holes: the tree may pass
    // the sequence checked above by those, and by nothing else
    let size = 0
    await until('a checkpoint of the whole tree', async () => {
      size = (await call(live, 'GET', '/integrity/checkpoint')).json.tree_size as number
      return size >= sequence.highestSeq
    }, 30000)
    if (size > sequence.highestSeq) {
      const later = await direct.db(database).collection('sequence_holes')
        .find({ tenant: FAULT_TENANT, seq: { $gt: sequence.highestSeq, $lte: size } }).toArray()
      t.same(
        [later.length, [...new Set(later.map((hole) => hole.reason))]],
        [size - sequence.highestSeq, ['reserved_by_signer']],
        `seqs ${sequence.highestSeq + 1}..${size}, past the sequence checked, are a dead replica's unused reservation`
      )
    }
    const keys = (await call(live, 'GET', '/integrity/keys')).json.keys as PublishedKey[]
    t.equal(keys.length, 1, 'one signing key across every replica and restart')
    const checkpoints = (await direct.db(database).collection('merkle_checkpoints').find({ tenant: FAULT_TENANT }).toArray())
      .map(({ _id, ...checkpoint }) => checkpoint as unknown as Checkpoint)
      .sort((a, b) => a.tree_size - b.tree_size)
    t.ok(checkpoints.length >= 5, `checkpoints signed along the way (${checkpoints.length})`)
    t.same(
      checkpoints.filter((checkpoint) => checkSignature(checkpoint, keys) !== 'ok').map((checkpoint) => checkpoint.tree_size),
      [],
      'every checkpoint verifies with the published key'
    )
    const inconsistent: number[] = []
    for (let i = 1; i < checkpoints.length; i++) {
      const [older, newer] = [checkpoints[i - 1]!, checkpoints[i]!]
      const proof = await call(live, 'GET', `/integrity/consistency?from=${older.tree_size}&to=${newer.tree_size}`, undefined, admin)
      const hashes = (proof.json.proof as string[]).map((hash) => Buffer.from(hash, 'hex'))
      if (
        !verifyConsistency(
          older.tree_size,
          newer.tree_size,
          Buffer.from(older.root_hash, 'hex'),
          Buffer.from(newer.root_hash, 'hex'),
          hashes
        )
      ) { inconsistent.push(newer.tree_size) }
    }
    t.same(inconsistent, [], 'each checkpoint is consistent with the one before: one tree, whichever replica signed')

    phase('checkpoints checked')
    // webhooks: every FaultProbe event arrived, the first arrival of each in seq order, across both kills
    const probeSeqs = (await events.find({ tenant: FAULT_TENANT, event_type: 'FaultProbe' }, { projection: { seq: 1 } }).toArray())
      .map((doc) => doc.seq as number)
      .sort((a, b) => a - b)
    await until('every event delivered by webhook', () => new Set(receiver.acceptedSeqs()).size >= probeSeqs.length, 60000)
    const firsts: number[] = []
    const seen = new Set<number>()
    for (const seq of receiver.acceptedSeqs()) {
      if (!seen.has(seq)) {
        seen.add(seq)
        firsts.push(seq)
      }
    }
    t.same(firsts, probeSeqs, 'every event delivered, the first arrival of each in seq order')
    t.ok(
      receiver.deliveries.every((delivery) => delivery.verified),
      'every delivery signed'
    )
    t.comment(
      `${receiver.deliveries.length} deliveries, ${receiver.acceptedSeqs().length - seen.size} events delivered again around the kills`
    )
    phase('webhooks checked')
    if (!t.passing()) t.comment(replicas.map((replica) => replica.outputTail()).join('\n---\n'))
  }
)
