import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { startEmbeddedDatabase } from '../../src/embedded/ferretdb.js'
import { build, testConfig } from '../helper.js'

t.test('liveness and readiness answer 200 without a token', async (t) => {
  const app = await build(t)
  for (const url of ['/health/live', '/health/ready']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 200, url)
    t.same(res.json(), { status: 'ok' })
  }
})

t.test('readiness answers 503 with the error body while the database is down, and 200 again once it is back', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'health-db-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const database = await startEmbeddedDatabase({ dataDir, log: () => {} })
  const app = await buildApp({ config: testConfig({ MONGODB_URL: database.url, DB_TIMEOUT_MS: '500' }) })
  await app.ready()

  await database.stop()
  const down = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(down.statusCode, 503)
  t.equal(down.headers['retry-after'], '1')
  t.match(down.json(), { statusCode: 503, code: 'DATABASE_UNAVAILABLE', error: 'Service Unavailable' })
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'the process itself is still live')

  const restarted = await startEmbeddedDatabase({ dataDir, port: database.port, log: () => {} })
  t.teardown(() => restarted.stop())
  let status = 0
  // up to 30 s: on a loaded machine the restarted database and the driver's reconnection took longer than 10 s once
  for (let attempt = 0; attempt < 120 && status !== 200; attempt++) {
    status = (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250))
  }
  t.equal(status, 200, 'ready again without restarting the service')
  await app.close()
})
