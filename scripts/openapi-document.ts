import { MongoClient } from 'mongodb'
import { buildApp } from '../src/app.js'
import { loadConfig, toAppConfig } from '../src/config.js'
import { startEmbeddedDatabase } from '../src/embedded/ferretdb.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * The document as text, exactly as committed: built from the same app as the server (fastify-cli's
 * generate-swagger way: register, ready, `swagger()`, close). The app needs a database to boot; any
 * reachable one will do, and nothing is written to it but indexes of a scratch database dropped after.
 */
export async function buildOpenApiDocument (): Promise<string> {
  const given = process.env.MONGODB_URL
  const dataDir = given === undefined || given === '' ? mkdtempSync(join(tmpdir(), 'audit-log-openapi-')) : undefined
  const embedded = dataDir === undefined ? undefined : await startEmbeddedDatabase({ dataDir, log: () => {} })
  const url = embedded?.url ?? (given as string)
  const database = `openapi_${process.pid}`
  const config = loadConfig({ MONGODB_URL: url, MONGODB_DATABASE: database, JWT_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent' })
  const app = await buildApp({ config: toAppConfig(config, { url, secret: 'x'.repeat(32) }) })
  try {
    await app.ready()
    return JSON.stringify(app.swagger(), null, 2) + '\n'
  } finally {
    await app.close()
    const client = new MongoClient(url)
    await client.db(database).dropDatabase().finally(() => client.close())
    await embedded?.stop()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  }
}
