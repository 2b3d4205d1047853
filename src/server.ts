import closeWithGrace from 'close-with-grace'
import { join } from 'node:path'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, toAppConfig, type Config } from './config.js'
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded/ferretdb.js'
import { readOrCreateSecretFile } from './embedded/secrets.js'

/**
 * Starts and stops the app; everything else lives in app.ts. Without MONGODB_URL it first starts the
 * embedded default database (FerretDB, data under DATA_DIR) so that `npm start` works on a fresh machine.
 */
async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n')
      process.exit(1)
    }
    throw err
  }

  let embedded: EmbeddedDatabase | undefined
  if (config.MONGODB_URL === undefined) {
    embedded = await startEmbeddedDatabase({ dataDir: join(config.DATA_DIR, 'ferretdb'), binary: config.FERRETDB_BIN })
  }
  const appConfig = toAppConfig(config, {
    url: embedded?.url ?? '',
    // read only when no JWT_SECRET is set: the embedded default's generated secret
    secret: config.JWT_SECRET ?? readOrCreateSecretFile(join(config.DATA_DIR, 'jwt-secret')).value,
    embedded: embedded !== undefined
  })

  let app
  try {
    app = await buildApp({ config: appConfig })
    await app.ready()
  } catch (err) {
    process.stderr.write(`Cannot start: ${(err as Error).message} (database ${redactUrl(appConfig.MONGODB_URL)})\n`)
    await embedded?.stop()
    process.exit(1)
  }

  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async function shutdown ({ signal, err }) {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down: finishing in-flight requests and pending writes')
    await app.close()
    await embedded?.stop()
  })

  await app.listen({ host: config.HOST, port: config.PORT })
  if (embedded !== undefined) {
    app.log.warn(`Using the EMBEDDED DEFAULT database (FerretDB on ${embedded.url}, data in ${join(config.DATA_DIR, 'ferretdb')}). ` +
      'For production set MONGODB_URL (e.g. mongodb://host:27017/auditlog) and JWT_SECRET; see README.md.')
  }
}

function redactUrl (url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}

await main()
