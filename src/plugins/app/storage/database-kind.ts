import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { MongoServerError } from 'mongodb'
import type { Config } from '../../../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Which server is behind MONGODB_URL, asked once at startup: defaults that suit one hurt the other. */
    databaseKind: DatabaseKind
  }
}

/** FerretDB (the embedded default and the tests: SQLite, one writer) or a MongoDB server. */
export type DatabaseKind = 'ferretdb' | 'mongodb'

/**
 * FerretDB answers `buildInfo` with a `ferretdbVersion` field (and a `ferretdb` document); MongoDB has
 * neither. A server that will not say is taken for MongoDB, the production database.
 * @see https://docs.ferretdb.io/reference/supported-commands/
 */
export function kindFromBuildInfo (buildInfo: Record<string, unknown>): DatabaseKind {
  return 'ferretdbVersion' in buildInfo || 'ferretdb' in buildInfo ? 'ferretdb' : 'mongodb'
}

/** Bulk inserts in flight by default: SQLite's single writer only queues a second one on its lock (BENCHMARKS.md). */
export function defaultWritesInFlight (kind: DatabaseKind): number {
  return kind === 'ferretdb' ? 1 : 4
}

/**
 * GROUP_COMMIT_MAX_IN_FLIGHT when set, else the default for this kind of server; the startup log says
 * which was chosen and why, since it decides how batches form.
 */
export function writesInFlight (
  fastify: FastifyInstance,
  {
    GROUP_COMMIT_MAX_IN_FLIGHT: configured,
    GROUP_COMMIT_MAX_BATCH: maxBatch
  }: Pick<Config, 'GROUP_COMMIT_MAX_IN_FLIGHT' | 'GROUP_COMMIT_MAX_BATCH'>
): number | undefined {
  // group commit off: every request writes on its own, as a naive service would (the writer's own default)
  if (maxBatch === 1 && configured === undefined) return undefined
  const chosen = configured ?? defaultWritesInFlight(fastify.databaseKind)
  fastify.log.info(
    {
      databaseKind: fastify.databaseKind,
      groupCommitMaxInFlight: chosen,
      source: configured === undefined ? 'default for this database' : 'GROUP_COMMIT_MAX_IN_FLIGHT'
    },
    `database is ${fastify.databaseKind === 'ferretdb' ? 'FerretDB' : 'MongoDB'}: ${chosen} bulk insert(s) in flight`
  )
  return chosen
}

async function databaseKindPlugin (fastify: FastifyInstance) {
  let kind: DatabaseKind = 'mongodb'
  try {
    kind = kindFromBuildInfo(await fastify.mongo.db!.admin().command({ buildInfo: 1 }))
  } catch (err) {
    // a server that refuses the command is asked nothing more; an unreachable one fails startup as before
    if (!(err instanceof MongoServerError)) throw err
    fastify.log.warn({ err }, 'could not ask the database what it is (buildInfo); assuming MongoDB')
  }
  fastify.decorate('databaseKind', kind)
}

export default fp(databaseKindPlugin, { fastify: '5.x', name: 'database-kind', dependencies: ['mongodb'] })
