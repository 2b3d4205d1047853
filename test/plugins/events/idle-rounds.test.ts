import t from 'tap'
import type { CommandStartedEvent } from 'mongodb'
import type { FastifyInstance } from 'fastify'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'

/**
 * The folder and the checkpoint signer poll the database. Polling at their base intervals whatever there is to do
 * cost an idle app with this file's settings ~17% of a core and FerretDB ~43% (measured over 10 s); with nothing
 * to fold or sign they now back off to one round a second, and this replica's own writes wake them.
 */
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50 }
const POLLED = new Set(['sequence_claims', 'sequence_counters', 'merkle_heads', 'merkle_checkpoint_heads'])

async function signedThrough (app: FastifyInstance, tenant: string, size: number): Promise<void> {
  while ((await app.checkpoints.newest(tenant))?.tree_size !== size) await new Promise((resolve) => setTimeout(resolve, 20))
}

t.test('an idle app reads the fold and signer records about once a second, and a write is folded and signed as before', async (t) => {
  const app = await build(t, { config })
  const headers = bearer(await userWithToken(app, { username: 'idle', roles: ['writer'], tenant: 'idle' }))
  const first = await app.inject({ method: 'POST', url: '/events', headers, payload: sampleEvent() })
  t.equal(first.statusCode, 201)
  await signedThrough(app, 'idle', 1)

  const reads = new Map<string, number>()
  const count = (event: CommandStartedEvent) => {
    const collection = String(event.command[event.commandName])
    if (event.commandName === 'find' && POLLED.has(collection)) reads.set(collection, (reads.get(collection) ?? 0) + 1)
  }
  const client = app.mongo.client
  client.options.monitorCommands = true
  client.on('commandStarted', count)
  t.teardown(() => client.off('commandStarted', count))
  await new Promise((resolve) => setTimeout(resolve, 4000))
  client.off('commandStarted', count)
  // polled every 20 ms, 4 s hold 200 fold rounds (two reads of the claims each) and 200 signer rounds. Backing off
  // from 20 ms to 1 s, they hold about 7 each (20, 40 … 640, then every 1,000 ms); a slow machine only makes fewer
  const seen = JSON.stringify(Object.fromEntries(reads))
  t.ok((reads.get('sequence_claims') ?? 0) <= 2 * 15, `the folder backed off (${seen})`)
  t.ok((reads.get('merkle_checkpoint_heads') ?? 0) <= 15, `the signer backed off (${seen})`)
  t.ok((reads.get('sequence_claims') ?? 0) > 0, `the folder still looks (${seen})`)

  const second = await app.inject({ method: 'POST', url: '/events', headers, payload: sampleEvent() })
  t.equal(second.statusCode, 201)
  await signedThrough(app, 'idle', 2)
  t.pass('the next event was folded and signed')
})
