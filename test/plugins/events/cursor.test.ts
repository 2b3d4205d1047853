import t from 'tap'
import { CursorCodec, queryFingerprint } from '../../../src/plugins/app/events/cursor.js'

t.test('the same filters in another order are the same query', async (t) => {
  t.equal(
    queryFingerprint(['t', 'desc', { username: ['a'], event_type: ['b'] }]),
    queryFingerprint(['t', 'desc', { event_type: ['b'], username: ['a'] }])
  )
  t.not(queryFingerprint(['t', 'desc', { username: ['a'] }]), queryFingerprint(['t', 'asc', { username: ['a'] }]))
  t.not(
    queryFingerprint(['t', 'desc', { username: ['a', 'b'] }]),
    queryFingerprint(['t', 'desc', { username: ['b', 'a'] }]),
    "value order is kept: it is the caller's"
  )
})

t.test('a cursor decodes back to its position only for its own query', async (t) => {
  const codec = new CursorCodec('s'.repeat(32))
  const position = { timestamp: new Date('2026-01-02T03:04:05.678Z'), id: '0123456789abcdef01234567' }
  const cursor = codec.encode(position, 'query-a')
  t.same(codec.decode(cursor, 'query-a'), position)
  t.match(thrown(() => codec.decode(cursor, 'query-b')), { statusCode: 400 }, 'another query')
  t.match(thrown(() => new CursorCodec('x'.repeat(32)).decode(cursor, 'query-a')), { statusCode: 400 }, 'another secret')
})

function thrown (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}
