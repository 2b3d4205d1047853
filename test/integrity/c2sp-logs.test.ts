import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'
import { rootFromLeafHashes } from '../../src/verifier/merkle.js'
import { parseNote } from '../../src/verifier/signed-note.js'
import { parseCheckpointText } from '../../src/verifier/tlog-checkpoint.js'
import { formatTilePath, parseTilePath } from '../../src/plugins/app/integrity/tile-path.js'

/**
 * Each tenant's log as C2SP tlog-tiles under /logs/{tenant}/ (#27): the checkpoint note, binary hash tiles at the
 * spec's paths with caching headers, never entry bundles; read by the tenant's readers and monitors, or anyone
 * once an admin made the log public; and reading them adds nothing to the log.
 */
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50, AUDIT_ACCESS: true }
const TENANT = 'tiles-tenant'

async function get (app: FastifyInstance, url: string, token?: string) {
  return await app.inject({ method: 'GET', url, headers: token === undefined ? {} : bearer(token) })
}

/** The tenant's stored log size: what a poller must not make grow (counted in the database, the one truth). */
async function logSize (app: FastifyInstance): Promise<number> {
  return await app.eventStore.collection.countDocuments({ tenant: TENANT })
}

function hashesOf (body: Buffer): Buffer[] {
  return Array.from({ length: body.length / 32 }, (_, i) => body.subarray(i * 32, i * 32 + 32))
}

t.test('tile paths as the spec spells them', async (t) => {
  t.same(parseTilePath('0/x001/x234/067'), { kind: 'hashes', level: 0, index: 1234067 })
  t.same(parseTilePath('2/000.p/255'), { kind: 'hashes', level: 2, index: 0, width: 255 })
  t.same(parseTilePath('entries/000'), { kind: 'entries' })
  t.equal(formatTilePath(0, 1234067), 'x001/x234/067'.replace(/^/, '0/'))
  t.equal(formatTilePath(1, 5, 3), '1/005.p/3')
  for (const bad of ['00/000', '0/1', '0/0000', '0/x000/001', '0/000.p/0', '0/000.p/256', '0/000.p/07', '64/000', '0/001/002', '-1/000']) {
    t.equal(parseTilePath(bad), undefined, `${bad} is no tile path`)
  }
})

t.test('checkpoint and hash tiles under /logs/{tenant}/, who may read them, and no read grows the log', async (t) => {
  const app = await build(t, { config })
  const admin = await userWithToken(app, { username: 'tiles-admin', roles: ['admin'], tenant: TENANT })
  const writer = await userWithToken(app, { username: 'tiles-writer', roles: ['writer'], tenant: TENANT })
  const reader = await userWithToken(app, { username: 'tiles-reader', roles: ['reader'], tenant: TENANT })
  const stranger = await userWithToken(app, { username: 'tiles-stranger', roles: ['reader'], tenant: 'tiles-other' })
  const batch = await app.inject({
    method: 'POST',
    url: '/events/batch',
    headers: bearer(writer),
    payload: { events: Array.from({ length: 300 }, (_, i) => sampleEvent({ event_id: `tile-${i}` })) }
  })
  t.equal(batch.statusCode, 200)
  const monitorKey = await app.inject({ method: 'POST', url: '/tenant/api-keys', headers: bearer(admin), payload: { name: 'witness feed', roles: ['monitor'] } })
  t.equal(monitorKey.statusCode, 201, 'an admin creates a monitor API key')
  const monitor = monitorKey.json().key as string
  // the key's creation is itself an entry: wait for a checkpoint covering everything written so far
  const size = await logSize(app)
  const json = await get(app, `/integrity/checkpoint?min_tree_size=${size}`, reader)
  t.equal(json.statusCode, 200)

  // the checkpoint: text/plain, the same note as the JSON's
  const res = await get(app, `/logs/${TENANT}/checkpoint`, reader)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; charset=utf-8/)
  t.equal(res.headers['cache-control'], 'private, max-age=2', 'a credential was needed: a browser cache only, a few seconds')
  const text = parseCheckpointText(parseNote(res.body).text)
  t.ok(text.size >= size, 'the newest checkpoint')
  t.equal(text.origin, `audit-log.example/${TENANT}`)

  // tiles: full and partial, binary, the hashes of the JSON tiles
  const full = await app.inject({ method: 'GET', url: `/logs/${TENANT}/tile/0/000`, headers: bearer(reader) })
  t.equal(full.statusCode, 200)
  t.equal(full.headers['content-type'], 'application/octet-stream')
  t.equal(full.headers['cache-control'], 'private, max-age=31536000, immutable', 'a full tile never changes')
  t.equal(full.rawPayload.length, 256 * 32)
  const jsonTile = (await get(app, '/integrity/tiles/0/0', reader)).json()
  t.same(hashesOf(full.rawPayload).map((hash) => hash.toString('hex')), jsonTile.hashes, 'the hashes of the JSON tile')
  const edge = text.size - 256
  const partial = await app.inject({ method: 'GET', url: `/logs/${TENANT}/tile/0/001.p/${edge}`, headers: bearer(reader) })
  t.equal(partial.statusCode, 200)
  t.equal(partial.headers['cache-control'], 'private, max-age=60')
  const leaves = [...hashesOf(full.rawPayload), ...hashesOf(partial.rawPayload)]
  t.equal(rootFromLeafHashes(leaves.slice(0, text.size)).toString('hex'), text.root.toString('hex'), "the tiles give the checkpoint's root")
  const level1 = await app.inject({ method: 'GET', url: `/logs/${TENANT}/tile/1/000.p/1`, headers: bearer(reader) })
  t.same(level1.rawPayload, rootFromLeafHashes(hashesOf(full.rawPayload)), 'level 1 holds the roots of full level-0 tiles')
  const prefix = await app.inject({ method: 'GET', url: `/logs/${TENANT}/tile/0/000.p/10`, headers: bearer(reader) })
  t.same(prefix.rawPayload, full.rawPayload.subarray(0, 320), 'a partial tile of a tile now full is its prefix')
  t.equal((await get(app, `/logs/${TENANT}/tile/0/001`, reader)).json().code, 'NOT_IN_TREE', 'the edge tile is not full yet')
  t.equal((await get(app, `/logs/${TENANT}/tile/0/001.p/255`, reader)).statusCode, 404, 'nor that wide')
  t.equal((await get(app, `/logs/${TENANT}/tile/0/999`, reader)).statusCode, 404)
  const entries = await get(app, `/logs/${TENANT}/tile/entries/000`, reader)
  t.equal(entries.statusCode, 404, 'entry bundles are never published')
  t.equal(entries.json().code, 'NOT_FOUND')
  t.match(entries.json().message, /personal data/)
  const bad = await get(app, `/logs/${TENANT}/tile/0/0001`, reader)
  t.equal(bad.statusCode, 400, 'not a tile path')
  t.equal(bad.json().code, 'BAD_REQUEST')

  // who may read
  t.equal((await get(app, `/logs/${TENANT}/checkpoint`)).statusCode, 401, 'no credential: 401 while the log is not public')
  const strangers = await get(app, `/logs/${TENANT}/checkpoint`, stranger)
  t.equal(strangers.statusCode, 403, "another tenant's reader: 403")
  t.match(strangers.json(), { code: 'AUTH_FORBIDDEN', message: `This credential is of another tenant than ${TENANT}, the one in the path` },
    'which says the tenant is what is wrong, not the role')
  t.equal((await get(app, `/logs/${TENANT}/checkpoint`, writer)).statusCode, 403, 'a writer: 403')
  t.equal((await get(app, `/logs/${TENANT}/checkpoint`, monitor)).statusCode, 200, 'the monitor key reads the checkpoint')
  t.equal((await get(app, `/logs/${TENANT}/tile/0/000`, monitor)).statusCode, 200, 'and the tiles')
  t.equal((await get(app, `/integrity/consistency?from=1&to=${text.size}`, monitor)).statusCode, 200, 'and consistency proofs')
  t.equal((await get(app, '/events', monitor)).statusCode, 403, 'but no event')

  // polling adds nothing to the log: counted in metrics instead
  const before = await logSize(app)
  const counted = async () => (await app.metrics.registry.getSingleMetric('auditlog_monitor_reads_total')?.get())?.values.reduce((sum, v) => sum + v.value, 0) ?? 0
  const countedBefore = await counted()
  const polls = ['checkpoint', 'tile/0/000', `tile/0/001.p/${edge}`].map((path) => `/logs/${TENANT}/${path}`)
  polls.push('/integrity/checkpoint', '/integrity/tiles/0/0', `/integrity/consistency?from=1&to=${text.size}`)
  for (let round = 0; round < 10; round++) {
    for (const url of polls) {
      for (const credential of [reader, monitor]) t.equal((await get(app, url, credential)).statusCode, 200, `${url}: 200`)
    }
  }
  t.equal(await logSize(app), before, `${polls.length * 20} reads of checkpoints and tiles leave the log as it was`)
  t.equal(await counted() - countedBefore, polls.length * 20, 'each is counted in auditlog_monitor_reads_total')
  t.equal((await get(app, '/events?limit=1', reader)).statusCode, 200)
  t.equal(await logSize(app), before + 1, 'while a read of events is still recorded (the count would see a recorded read)')

  // public: an admin's choice, itself an entry of the log
  const opened = await app.inject({ method: 'PUT', url: '/tenant/log-access', headers: bearer(admin), payload: { public: true } })
  t.equal(opened.statusCode, 200)
  t.same(opened.json().public, true)
  t.equal(opened.json().origin, `audit-log.example/${TENANT}`)
  const recorded = await app.eventStore.collection.findOne({ tenant: TENANT, event_type: 'audit.admin.log_access_changed' })
  t.same(recorded?.event_specificdetails, { public: true, previous_public: false, origin: `audit-log.example/${TENANT}` }, 'the change is in the log')
  const anonymous = await get(app, `/logs/${TENANT}/checkpoint`)
  t.equal(anonymous.statusCode, 200, 'anyone reads a public log')
  t.equal(anonymous.headers['cache-control'], 'public, max-age=2')
  t.equal((await get(app, `/logs/${TENANT}/tile/0/000`)).headers['cache-control'], 'public, max-age=31536000, immutable')
  t.equal((await get(app, '/logs/tiles-other/checkpoint')).statusCode, 401, "another tenant's log stays closed")
  t.equal((await app.inject({ method: 'PUT', url: '/tenant/log-access', headers: bearer(reader), payload: { public: false } })).statusCode, 403, 'only an admin')
  t.equal((await app.inject({ method: 'PUT', url: '/tenant/log-access', headers: bearer(admin), payload: { public: 'yes' } })).statusCode, 400)
  // the fuzzer found a null taken for false: the route had its own schema controller, with a coercing Ajv
  for (const body of ['{"public": null}', '{"public": 1}', '{"public": "true"}', '{}', 'null']) {
    const refused = await app.inject({ method: 'PUT', url: '/tenant/log-access', headers: { ...bearer(admin), 'content-type': 'application/json' }, payload: body })
    t.equal(refused.statusCode, 400, `${body}: 400`)
  }
  t.equal((await app.inject({ method: 'PUT', url: '/tenant/log-access', headers: bearer(admin), payload: { public: false } })).statusCode, 200)
  t.equal((await get(app, `/logs/${TENANT}/checkpoint`)).statusCode, 401, 'closed again')
  t.same((await get(app, '/tenant/log-access', admin)).json().public, false)
})
