import t from 'tap'
import { createWriterToken, runDatabaseName, sleep, startDatabase, startService, stopService } from './harness.js'
import { WebhookReceiver } from '../fixtures/webhook-receiver.js'

/**
 * kill -9 of the replica delivering a webhook, mid-stream: the other replica takes the lease over once it
 * lapses and continues from the recorded position. The receiver gets every event (at least once; a delivery
 * in flight at the kill may come again), and the first arrival of each seq is in seq order.
 */
const BATCHES = 20
const PER_BATCH = 50

t.test('killing the delivering replica loses no webhook delivery; the other replica takes over', async (t) => {
  const db = await startDatabase()
  t.teardown(() => db.stop())
  const database = runDatabaseName('webhook_takeover')
  const writer = await createWriterToken(db.url, database)
  const admin = await createWriterToken(db.url, database, ['admin', 'reader'], 'fault-admin')
  const env = {
    MONGODB_URL: db.url,
    MONGODB_DATABASE: database,
    WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    WEBHOOK_SCAN_MS: '100',
    WEBHOOK_LEASE_MS: '1500',
    WEBHOOK_BATCH_MAX: '20',
    STREAM_POLL_MS: '50',
    SEQUENCE_FOLD_MS: '200'
  }
  const receiver = new WebhookReceiver()
  const url = await receiver.start()
  t.teardown(() => receiver.stop())

  // A alone first, so that A holds the lease; B joins before A is killed
  const a = await startService(env)
  t.teardown(() => stopService(a))
  const created = await fetch(`${a.baseUrl}/tenant/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url, start_after_seq: 0, filter: { event_type: ['AccountCreated'] } })
  })
  t.equal(created.status, 201)
  receiver.secret = (await created.json() as { secret: string }).secret
  const b = await startService(env)
  t.teardown(() => stopService(b))

  const posted: number[] = []
  const event = (i: number) => ({
    event_type: 'AccountCreated',
    username: `u${i}`,
    entitytype: 'customer_account',
    ip: '10.0.0.1',
    location: 'x',
    description: `event ${i}`
  })
  let killed = false
  for (let batch = 0; batch < BATCHES; batch++) {
    const response = await fetch(`${b.baseUrl}/events/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: Array.from({ length: PER_BATCH }, (_, i) => event(batch * PER_BATCH + i)) })
    })
    posted.push(...(await response.json() as { items: Array<{ seq: number }> }).items.map((item) => item.seq))
    if (!killed && receiver.deliveries.length >= 3) {
      a.child.kill('SIGKILL')
      await a.exited
      killed = true
      t.comment(`killed the delivering replica after ${receiver.deliveries.length} deliveries`)
    }
    await sleep(20)
  }
  t.ok(killed, 'the delivering replica was killed mid-stream')
  await receiver.until(() => new Set(receiver.acceptedSeqs()).size >= posted.length)

  const firsts: number[] = []
  const seen = new Set<number>()
  for (const seq of receiver.acceptedSeqs()) if (!seen.has(seq)) { seen.add(seq); firsts.push(seq) }
  t.same(firsts, [...posted].sort((x, y) => x - y), 'every event arrived, the first arrival of each in seq order')
  t.comment(
    `${receiver.deliveries.length} deliveries, ${receiver.acceptedSeqs().length - seen.size} events delivered twice around the kill`
  )
  t.ok(receiver.deliveries.every((delivery) => delivery.verified), 'every delivery signed')
  if (!t.passing()) t.comment(a.outputTail(), b.outputTail())
})
