import type { Db } from 'mongodb'
import type { Principal } from '../src/plugins/app/access/authorization.js'
import { createUser, prepareDatabase, type BenchDatabase } from './database.js'
import type { BenchOptions } from './options.js'
import type { Results } from './results.js'
import { startService, type RunningService } from './service.js'
import { BENCH_USER } from './token.js'

/** What every workload is given. */
export interface BenchContext {
  options: BenchOptions
  database: BenchDatabase
  /** The JWT secret the service children run with (and the token was signed with). */
  secret: string
  token: string
  results: Results
  /** bench/results: service logs and CPU profiles go here too. */
  resultsDir: string
  profileDir?: string
  /** The compiled server.js to run (--compiled), else src/server.ts under tsx. */
  compiledServer?: string
  /** The compiled server.js of `--baseline`, when comparing with it. */
  baselineServer?: string
  log: (line: string) => void
}

/** The bench user as the service sees it once the token is verified: stamps the reference documents. */
export const BENCH_PRINCIPAL: Principal = {
  username: BENCH_USER.username,
  tenant: BENCH_USER.tenant,
  roles: BENCH_USER.roles,
  expiresAt: new Date(Date.now() + 86400_000)
}

/**
 * A fresh database holding the bench user, and the real service started on it. The caller stops the
 * service; the database stays until the run ends.
 */
export async function openService (
  context: BenchContext,
  name: string,
  env: Record<string, string> = {},
  server = context.compiledServer
): Promise<{ service: RunningService; db: Db }> {
  const db = await prepareDatabase(context.database.client, name)
  await createUser(db, BENCH_USER)
  context.log(
    `starting the service (${name}${
      Object.keys(env).length > 0
        ? ', ' +
          Object.entries(env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : ''
    })`
  )
  const service = await startService({
    name,
    databaseUrl: context.database.url,
    database: db.databaseName,
    secret: context.secret,
    env,
    logDir: context.resultsDir,
    cpuProfileDir: context.profileDir,
    compiledServer: server
  })
  return { service, db }
}
