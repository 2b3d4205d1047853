import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'

/**
 * Checkpoints do not depend on replicas agreeing on time. A second replica whose clock runs three days ahead signs
 * a checkpoint (a genuine one: same key, same tree); its issued_at is in the future for the first replica, which
 * must still sign the tree as it grows, within about an interval, not three days later.
 */
// an interval of 2 s, not 50 ms: the replica ahead signs by hand right after the tree grows, before the other one's
// interval lets it sign (with 50 ms the two raced, and on a loaded machine the one ahead lost a hundred times)
const config = { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 2000 }
const DAY = 24 * 3600 * 1000

async function newestSize (app: FastifyInstance, tenant: string): Promise<number> {
  return (await app.checkpoints.newest(tenant))?.tree_size ?? 0
}

async function until (what: string, check: () => Promise<boolean>, ms = 20000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

t.test('a checkpoint issued by a replica whose clock runs 3 days ahead does not stop the others from signing', async (t) => {
  const app = await build(t, { config })
  const ahead = await build(t, { config })
  const writer = await userWithToken(app, { username: 'skew-writer', roles: ['writer'], tenant: 'tenant-skew' })
  const write = async (prefix: string, count: number) => {
    const res = await app.inject({
      method: 'POST',
      url: '/events/batch',
      headers: bearer(writer),
      payload: { events: Array.from({ length: count }, (_, i) => sampleEvent({ event_id: `${prefix}-${i}` })) }
    })
    t.equal(res.statusCode, 200, `${prefix}: written`)
  }

  await write('first', 40)
  await until('the first checkpoint', async () => (await newestSize(app, 'tenant-skew')) >= 40)
  await write('second', 10)
  await until('the tree to grow', async () => ((await app.merkleTrees.allHeads()).find((h) => h.tenant === 'tenant-skew')?.size ?? 0) >= 50)
  // the replica three days ahead signs the grown tree (if the other has not yet: then it signs the next growth)
  for (let i = 0; i < 100 && Date.parse((await app.checkpoints.newest('tenant-skew'))?.issued_at ?? '') < Date.now() + DAY; i++) {
    await ahead.checkpoints.signDue(Date.now() + 3 * DAY)
    if (Date.parse((await app.checkpoints.newest('tenant-skew'))?.issued_at ?? '') < Date.now() + DAY) {
      await write(`nudge-${i}`, 1)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const future = await app.checkpoints.newest('tenant-skew')
  t.ok(Date.parse(future?.issued_at ?? '') > Date.now() + 2 * DAY, `the newest checkpoint is issued 3 days ahead (${future?.issued_at})`)

  await write('third', 30)
  const size = future?.tree_size ?? 0
  await until('a checkpoint of the grown tree', async () => (await newestSize(app, 'tenant-skew')) > size)
  t.pass(`signed again: ${await newestSize(app, 'tenant-skew')} > ${size}`)
})
