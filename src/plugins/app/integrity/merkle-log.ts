import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { runBackingOff } from '../storage/periodic.js'
import { MerkleTrees } from './tree.js'
import { TreeBuilder } from './tree-builder.js'
import { Checkpoints } from './checkpoints.js'
import { Proofs } from './proofs.js'
import { loadSigningKeys, type SigningKeyFiles, type SigningKeys } from './signing-key.js'
import { SignerState } from './signer-state.js'
import { IntegrityAlarm } from './integrity-alarm.js'
import { basename, dirname, extname, join } from 'node:path'

declare module 'fastify' {
  interface FastifyInstance {
    merkleTrees: MerkleTrees
    checkpoints: Checkpoints
    proofs: Proofs
    signingKeys: SigningKeys
    /** The signer's durable record, outside the database (signer-state.ts). */
    signerState: SignerState
    integrityAlarm: IntegrityAlarm
  }
}

export interface MerkleLogOptions extends SigningKeyFiles {
  /** A tenant's new events are in a signed checkpoint within about this long. */
  checkpointIntervalMs: number
  /** SIGNING_STATE_DIR: where the signer's record is kept; beside the key file when unset. */
  stateDir?: string
  /** AUDIT_LOG_ORIGIN: the C2SP origin prefix of every tenant's log. */
  origin: string
}

/** `signing-key.pem` → `signing-key.state.jsonl`, beside the key or in SIGNING_STATE_DIR. */
export function signerStateFile (keyFile: string, stateDir?: string): string {
  return join(stateDir ?? dirname(keyFile), `${basename(keyFile, extname(keyFile))}.state.jsonl`)
}

/**
 * The verifiable log: every fold of the sequencer extends the tenants' Merkle trees with the settled
 * leaves, and a signer on every replica signs each grown tree at most once per interval.
 */
async function merkleLogPlugin (fastify: FastifyInstance, options: MerkleLogOptions) {
  const db = fastify.mongo.db
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (db === undefined) throw new Error('mongodb plugin has no database')
  const { keys, created } = loadSigningKeys(options)
  if (created) {
    fastify.log.warn(
      { file: options.keyFile },
      'generated a new checkpoint signing key; every replica must use this same file (SIGNING_KEY_FILE)'
    )
  }
  const trees = new MerkleTrees(db)
  const signerState = new SignerState(signerStateFile(options.keyFile, options.stateDir), db.databaseName)
  const alarm = new IntegrityAlarm(fastify.log, fastify.metrics.registry)
  const checkpoints = new Checkpoints(db, trees, keys, signerState, alarm, options.checkpointIntervalMs, options.origin, fastify.log)
  await trees.ensureIndexes()
  await checkpoints.ensureIndexes()
  fastify.sequencer.useSeqFloor((tenant) => signerState.seqFloor(tenant))
  fastify.decorate('merkleTrees', trees)
  fastify.decorate('checkpoints', checkpoints)
  fastify.decorate('signingKeys', keys)
  fastify.decorate('signerState', signerState)
  fastify.decorate('integrityAlarm', alarm)
  fastify.decorate('proofs', new Proofs(trees, checkpoints, fastify.eventStore, options.checkpointIntervalMs))
  const tick = Math.max(20, Math.min(500, Math.floor(options.checkpointIntervalMs / 4)))
  // with no tree unsigned the signer looks less often; a tree this replica's fold extends wakes it
  const rounds = runBackingOff(() => tick, () => IDLE_SIGNER_MS, async () => await checkpoints.signDue(), fastify.log, 'signing checkpoints failed; retrying')
  const builder = new TreeBuilder(trees, fastify.eventStore.collection)
  fastify.sequencer.appendSettledTo({
    extend: async (tenant, settlements) => {
      await builder.extend(tenant, settlements)
      rounds.wake()
    }
  })
  fastify.addHook('onClose', rounds.stop)
  fastify.addHook('onClose', async () => await signerState.close())
}

/**
 * The longest the signer waits between rounds while every tree is signed (never shorter than its tick): how late
 * it may sign a tree that another replica's fold extended after a quiet spell, on top of the interval.
 */
const IDLE_SIGNER_MS = 1000

export default fp(merkleLogPlugin, { fastify: '5.x', name: 'merkle-log', dependencies: ['event-store', 'sequencer', 'metrics'] })
