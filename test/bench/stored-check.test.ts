import t from 'tap'
import { collectStoredIds } from '../../bench/load.js'
import { Results } from '../../bench/results.js'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'

/** The bench's "every run stores exactly what it acknowledged" check: id for id, not only a count. */
t.test('the acknowledged ids are read from single and batch answers, never from a read', async (t) => {
  const ids = new Set<string>()
  collectStoredIds(JSON.stringify({ id: 'a', status: 'created' }), ids)
  collectStoredIds(JSON.stringify({ id: 'b', status: 'duplicate' }), ids)
  collectStoredIds(JSON.stringify({ items: [{ id: 'c', status: 'created' }, { status: 'error', error: 'x' }, { id: 'd', status: 'duplicate' }] }), ids)
  collectStoredIds(JSON.stringify({ items: [{ id: 'e', seq: 1 }], next_cursor: null }), ids)
  collectStoredIds('not json', ids)
  t.same([...ids].sort(), ['a', 'b', 'c', 'd'])
})

t.test('a run passes only when every acknowledged event is stored and nothing else beyond the tolerance', async (t) => {
  const app = await build(t)
  const headers = bearer(await userWithToken(app, { username: 'checker', roles: ['writer'] }))
  const marker = 'stored-check-run'
  const acknowledged = new Set<string>()
  for (let i = 0; i < 3; i++) {
    const response = await app.inject({
      method: 'POST',
      url: '/events',
      headers,
      payload: sampleEvent({ event_type: marker, event_id: `${marker}-${i}` })
    })
    t.equal(response.statusCode, 201)
    collectStoredIds(response.body, acknowledged)
  }
  t.equal(acknowledged.size, 3)
  const db = app.mongo.db!
  const results = new Results()

  const exact = await results.checkStored(db, 'tenant-a', marker, acknowledged, 0)
  t.match(exact, { acknowledged: 3, stored: 3, missing: 0, unacknowledged: 0, ok: true })

  const others = [...acknowledged].slice(1)
  const unanswered = await results.checkStored(db, 'tenant-a', marker, new Set(others), 0)
  t.match(unanswered, { stored: 3, missing: 0, unacknowledged: 1, ok: false }, 'a stored event no answer named fails a run ended by count')
  t.equal((await results.checkStored(db, 'tenant-a', marker, new Set(others), 1)).ok, true, 'and passes within a guard\'s tolerance')

  // as many stored as acknowledged, but not the same events: a count alone would pass this
  const swapped = new Set([...others, '0123456789abcdef01234567'])
  const lost = await results.checkStored(db, 'tenant-a', marker, swapped, 1)
  t.match(lost, { acknowledged: 3, stored: 3, missing: 1, unacknowledged: 1, ok: false }, 'an acknowledged event missing fails whatever the tolerance')
})
