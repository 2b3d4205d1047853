import t from 'tap'
import type { CommandStartedEvent } from 'mongodb'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'

/**
 * What one bulk write costs the database, counted from the driver's own command events, so that it cannot
 * creep back up unnoticed (issue #32): on SQLite each write is a transaction with its sync, on MongoDB a
 * `w: majority, j: true` round trip. Today a bulk write takes two: the claim of its seqs (which carries the
 * settlements of earlier ones) and the events; a settlement no claim came for within 20 ms is a third, of its own.
 * The fold and the checkpoint signer run on their own clocks, off the write path: they are kept still here.
 */
const config = { SEQUENCE_FOLD_MS: 60_000, CHECKPOINT_INTERVAL_MS: 60_000 }
const WRITES = new Set(['insert', 'update', 'delete', 'findAndModify'])

t.test('a bulk write costs the database one claim and one insert of events, and at most one settlement of its own', async (t) => {
  const app = await build(t, { config })
  const headers = bearer(await userWithToken(app, { username: 'counted', roles: ['writer'], tenant: 'counted' }))
  const writes = new Map<string, number>()
  const count = (event: CommandStartedEvent) => {
    if (!WRITES.has(event.commandName)) return
    const key = `${event.commandName} ${String(event.command[event.commandName])}`
    writes.set(key, (writes.get(key) ?? 0) + 1)
  }
  const client = app.mongo.client
  // read by the driver as each command starts, so it can be turned on for a running client
  client.options.monitorCommands = true
  client.on('commandStarted', count)
  t.teardown(() => client.off('commandStarted', count))
  const bulkWrites = 20
  for (let i = 0; i < bulkWrites; i++) {
    const events = Array.from({ length: 5 }, (_, n) => sampleEvent({ event_specificdetails: { i, n } }))
    const res = await app.inject({ method: 'POST', url: '/events/batch', headers, payload: { events } })
    t.same(res.json().items.map((item: { status: string }) => item.status), Array(5).fill('created'), `bulk write ${i + 1} stored`)
  }
  client.off('commandStarted', count)
  const seen = Object.fromEntries(writes)
  t.equal(writes.get('insert events'), bulkWrites, `one insert of events per bulk write (${JSON.stringify(seen)})`)
  t.equal(writes.get('insert sequence_claims'), bulkWrites, 'one claim per bulk write, whatever its size')
  t.ok((writes.get('insert sequence_commits') ?? 0) <= bulkWrites, 'at most one settlement record per bulk write, when no claim carried it')
  const onWritePath = ['insert events', 'insert sequence_claims', 'insert sequence_commits']
  const others = [...writes].filter(([key]) => !onWritePath.includes(key))
  t.same(others, [], 'nothing else is written for a bulk write')
})
