import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoServerError } from 'mongodb'
import type { FastifyError } from 'fastify'
import { buildApp } from '../../src/app.js'
import { startEmbeddedDatabase } from '../../src/embedded/ferretdb.js'
import { translateDatabaseError } from '../../src/plugins/app/http/error-handler.js'
import { DiskFull } from '../../src/plugins/app/storage/disk-full.js'
import { bearer, sampleEvent, testConfig, userWithToken } from '../helper.js'

/**
 * A full disk. FerretDB's SQLite is given a size it cannot grow past (`max_page_count`), which it refuses writes
 * beyond exactly as it does on a full disk (SQLITE_FULL, "database or disk is full"). Writes are answered 503 with
 * Retry-After, readiness is false while they fail, both recover by themselves once there is space again (the same
 * data reopened without the cap), and every acknowledged event is stored.
 */

/** FerretDB 1.24's answer to an insert SQLite has no page for, as the driver raises it (read from a real one). */
const FERRETDB_DISK_FULL = {
  ok: 0,
  errmsg: '[msg_insert.go:168 handler.(*Handler).MsgInsert] [collection.go:135 sqlite.(*collection).InsertAll.func1] database or disk is full (13)',
  code: 1,
  codeName: 'InternalError'
}

t.test('FerretDB\'s full-disk error becomes 503 DATABASE_UNAVAILABLE with a Retry-After', async (t) => {
  const translated = translateDatabaseError(new MongoServerError(FERRETDB_DISK_FULL) as unknown as FastifyError)
  t.match(translated, { statusCode: 503, code: 'DATABASE_UNAVAILABLE', message: /no space left/, retryAfter: 10 })
  const mongo = translateDatabaseError(new MongoServerError({ ok: 0, errmsg: 'Out of disk space', code: 14031 }) as unknown as FastifyError)
  t.match(mongo, { statusCode: 503, code: 'DATABASE_UNAVAILABLE' }, 'and MongoDB\'s OutOfDiskSpace')
  const other = new MongoServerError({ ok: 0, errmsg: 'something else', code: 1 }) as unknown as FastifyError
  t.equal(translateDatabaseError(other), other, 'another internal error is not taken for a full disk')
})

t.test('readiness is false for a while after a write refused for lack of space, then true again by itself', async (t) => {
  let now = 1000
  const state = new DiskFull({ holdMs: 10000, now: () => now })
  t.equal(state.full, false)
  state.noteFailure(new MongoServerError({ ok: 0, errmsg: 'no such command', code: 59 }))
  t.equal(state.full, false, 'other failures say nothing about space')
  state.noteFailure(new MongoServerError(FERRETDB_DISK_FULL))
  t.equal(state.full, true)
  now += 9999
  t.equal(state.full, true, 'held while writes were refused recently')
  now += 1
  t.equal(state.full, false, 'released once none was refused for holdMs')
})

t.test('on a database that cannot grow: 503 with Retry-After, not ready, recovery by itself, nothing acknowledged lost', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'disk-full-db-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const capped = await startEmbeddedDatabase({ dataDir, log: () => {}, sqlitePragmas: ['max_page_count(1200)'] })
  let database = capped
  t.teardown(() => database.stop())
  const app = await buildApp({ config: testConfig({ MONGODB_URL: capped.url }) })
  t.teardown(() => app.close())
  await app.ready()
  const writer = await userWithToken(app, { username: 'full-writer', roles: ['writer'], tenant: 'tenant-full' })
  const batch = (n: number) => ({
    events: Array.from({ length: 50 }, (_, i) => sampleEvent({ event_id: `full-${n}-${i}`, description: 'x'.repeat(4000) }))
  })

  const acknowledged: string[] = []
  let refused: Awaited<ReturnType<typeof app.inject>> | undefined
  for (let n = 0; n < 200 && refused === undefined; n++) {
    const res = await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: batch(n) })
    if (res.statusCode === 200) {
      for (const [i, item] of (res.json() as { items: Array<{ status: string }> }).items.entries()) {
        if (item.status === 'created' || item.status === 'duplicate') acknowledged.push(`full-${n}-${i}`)
      }
    } else {
      refused = res
    }
  }
  t.ok(acknowledged.length > 0, `${acknowledged.length} events were stored before the database was full`)
  t.ok(refused !== undefined, 'a write was refused once the database was full')
  t.equal(refused?.statusCode, 503, 'with 503, not 500')
  t.match(refused?.json(), { code: 'DATABASE_UNAVAILABLE', message: /no space left/ })
  t.equal(refused?.headers['retry-after'], '10', 'and a Retry-After')
  const notReady = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(notReady.statusCode, 503, 'readiness is false while writes fail')
  t.match(notReady.json(), { code: 'DATABASE_UNAVAILABLE', message: /no space left/ })

  // space again: the same data, reopened without the cap
  await capped.stop()
  database = await startEmbeddedDatabase({ dataDir, port: capped.port, log: () => {} })
  let status = 0
  const started = Date.now()
  for (let attempt = 0; attempt < 120 && status !== 200; attempt++) {
    status = (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250))
  }
  t.equal(status, 200, `ready again by itself (${Date.now() - started} ms), no write needed`)
  const retried = await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: batch(999) })
  t.equal(retried.statusCode, 200, 'writes succeed again')
  const stored = await app.eventStore.collection.countDocuments({ tenant: 'tenant-full', event_id: { $in: acknowledged } })
  t.equal(stored, acknowledged.length, 'every acknowledged event is stored')
})
