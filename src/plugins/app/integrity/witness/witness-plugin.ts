import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { runEvery } from '../../storage/periodic.js'
import { WitnessHeads } from './witness-heads.js'
import { parseWitnesses, quorumOf } from './witness-list.js'
import { Witnessing } from './witnessing.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Cosignatures of independent witnesses on the tenants' checkpoints (witness/witnessing.ts). */
    witnessing: Witnessing
  }
}

export interface WitnessingPluginOptions {
  /** WITNESSES: a JSON array of {"url", "vkey"}. */
  witnesses: string
  /** WITNESS_QUORUM: cosignatures that make a checkpoint witnessed; 0 for all. */
  quorum: number
  /** WITNESS_ALLOW_HOSTS: hosts that may be reached over plain http. */
  allowHosts: string
  timeoutMs: number
  retryBaseMs: number
  retryMaxMs: number
  /** CHECKPOINT_INTERVAL_MS: a new checkpoint is looked for as often as the signer looks for trees to sign. */
  checkpointIntervalMs: number
}

async function witnessingPlugin (fastify: FastifyInstance, options: WitnessingPluginOptions) {
  const db = fastify.mongo.db
  /* c8 ignore next -- the mongodb plugin is always given a database name */
  if (db === undefined) throw new Error('mongodb plugin has no database')
  const witnesses = parseWitnesses(options.witnesses, options.allowHosts)
  const heads = new WitnessHeads(db)
  const witnessing = new Witnessing(
    {
      witnesses,
      quorum: quorumOf(options.quorum, witnesses),
      timeoutMs: options.timeoutMs,
      retryBaseMs: options.retryBaseMs,
      retryMaxMs: options.retryMaxMs
    },
    heads,
    { newestOfEach: async () => await fastify.checkpoints.latest.newestOfEach('tenant') },
    fastify.merkleTrees,
    fastify.integrityAlarm,
    fastify.log,
    fastify.metrics.registry
  )
  fastify.decorate('witnessing', witnessing)
  if (!witnessing.enabled) return
  await heads.ensureIndexes()
  fastify.log.info({ witnesses: witnesses.map(({ name, url }) => ({ name, url })) }, 'sending checkpoints to witnesses')
  const tick = Math.max(20, Math.min(500, Math.floor(options.checkpointIntervalMs / 4)))
  const stop = runEvery(() => tick, async () => await witnessing.round(), fastify.log, 'sending checkpoints to witnesses failed; retrying')
  fastify.addHook('onClose', async () => {
    await stop()
    await witnessing.stop()
  })
}

export default fp(witnessingPlugin, { fastify: '5.x', name: 'witnessing', dependencies: ['merkle-log', 'metrics'] })
