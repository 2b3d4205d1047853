import t from 'tap'
import { bearer, build, sampleEvent, userWithToken } from '../../helper.js'

/**
 * The settled watch (streaming/settled-watch.ts) tells followers of every rise of a tenant's settled mark. A
 * follower that joins after a rise must hear the mark too: on a tenant gone quiet no later rise would tell it.
 */
t.test('a follower that joins after the mark rose hears it at once, without waiting for another event', async (t) => {
  const app = await build(t, { config: { SEQUENCE_FOLD_MS: 20, STREAM_POLL_MS: 20 } })
  const writer = await userWithToken(app, { username: 'watch-writer', roles: ['writer'], tenant: 'watched' })
  const first: number[] = []
  t.teardown(app.settledWatch.follow('watched', (through) => first.push(through)))
  const postAndHear = async (): Promise<number> => {
    const posted = await app.inject({ method: 'POST', url: '/events', headers: bearer(writer), payload: sampleEvent() })
    t.equal(posted.statusCode, 201)
    const seq = (posted.json() as { seq: number }).seq
    while (!first.some((through) => through >= seq)) await new Promise((resolve) => setTimeout(resolve, 20))
    return seq
  }
  // the tail starts at the first mark it sees: the second event is the one it holds
  await postAndHear()
  const seq = await postAndHear()

  const late: number[] = []
  t.teardown(app.settledWatch.follow('watched', (through) => late.push(through)))
  t.ok(late.length > 0 && (late.at(-1) as number) >= seq, `the late follower was told ${JSON.stringify(late)}, through seq ${seq}`)
  const held = await app.settledWatch.readAfter('watched', {}, seq - 1, late.at(-1) as number, 10)
  t.same(held.events.map((event) => event.seq), [seq], 'and the tail already holds what the mark covers')
  t.same(app.settledWatch.reads, { memory: 1, database: 0 })
})
