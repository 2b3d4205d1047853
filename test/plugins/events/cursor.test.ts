import t from 'tap'
import { createHmac } from 'node:crypto'
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

/** A cursor as the codec would sign it, over any body text: what a leaked key or an encoder bug could produce. */
function signedCursor (secret: string, body: string): string {
  const key = createHmac('sha256', secret).update('audit-log page cursor v1').digest()
  const payload = Buffer.from(body)
  return Buffer.concat([createHmac('sha256', key).update(payload).digest().subarray(0, 16), payload]).toString('base64url')
}

t.test('a signed cursor whose position is out of range or malformed is a 400, never a query with Infinity', async (t) => {
  const secret = 's'.repeat(32)
  const codec = new CursorCodec(secret)
  t.same(codec.decode(signedCursor(secret, '{"s":41,"q":"q"}'), 'q'), { seq: 41 }, 'the control decodes')
  const bodies = [
    '{"s":1e400,"q":"q"}', '{"s":-1e400,"q":"q"}', '{"s":9007199254740993,"q":"q"}', '{"s":-1,"q":"q"}', '{"s":1.5,"q":"q"}', '{"s":"1","q":"q"}',
    '{"t":1e400,"i":"0123456789abcdef01234567","q":"q"}', '{"t":8.64e15,"i":"0123456789abcdef01234567","q":"q"}',
    '{"t":1e16,"i":"0123456789abcdef01234567","q":"q"}', '{"t":0,"i":"xyz","q":"q"}', '{"t":0,"q":"q"}', '{"q":"q"}', 'not json', 'null'
  ]
  for (const body of bodies) {
    const err = thrown(() => codec.decode(signedCursor(secret, body), 'q'))
    if (body === '{"t":8.64e15,"i":"0123456789abcdef01234567","q":"q"}') {
      t.equal(err, undefined, 'the last time a Date holds is a position')
      continue
    }
    t.match(err, { statusCode: 400, message: /cursor is not valid/ }, body)
  }
})
