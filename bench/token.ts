import { buildApp } from '../src/app.js'
import { loadConfig, toAppConfig } from '../src/config.js'
import type { Role } from '../src/schemas/roles.js'
import { BENCH_USER_UID, DATABASE_PREFIX } from './database.js'
import { BENCH_DATA_DIR } from './service.js'

export interface BenchIdentity {
  username: string
  tenant: string
  roles: Role[]
}

/** The writer and reader every workload acts as; created in each workload's database. */
export const BENCH_USER: BenchIdentity = { username: 'bench-client', tenant: 'bench', roles: ['writer', 'reader'] }

/**
 * A bearer token signed the way the service signs them (same secret, issuer and audience): issued by
 * the app's own login service, so no password hashing or login route sits in the measurements. It lives
 * for a day, longer than any run.
 */
export async function mintToken (databaseUrl: string, secret: string, user: BenchIdentity): Promise<string> {
  const config = loadConfig({
    // the app writes a signing key and the signer's record there: the run's directory, not data/
    DATA_DIR: BENCH_DATA_DIR,
    MONGODB_URL: databaseUrl,
    MONGODB_DATABASE: `${DATABASE_PREFIX}token`,
    JWT_SECRET: secret,
    JWT_TTL: 86400,
    LOG_LEVEL: 'silent'
  })
  const app = await buildApp({ config: toAppConfig(config, { url: databaseUrl, secret }) })
  try {
    await app.ready()
    return app.loginService.issueToken({ ...user, token_version: 0, uid: BENCH_USER_UID }).access_token
  } finally {
    await app.close()
  }
}
