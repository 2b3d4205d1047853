import t from 'tap'
import { FreshRecords } from '../../../src/plugins/app/storage/fresh-records.js'

/** A read the test answers when it chooses. */
function heldRead<T> (): { read: () => Promise<T>, answer: (value: T) => void, calls: () => number } {
  let calls = 0
  let answer: (value: T) => void = () => {}
  return {
    read: async () => { calls++; return await new Promise<T>((resolve) => { answer = resolve }) },
    answer: (value) => answer(value),
    calls: () => calls
  }
}

t.test('requests that miss together share one read, and its answer is kept', async (t) => {
  const records = new FreshRecords<string>(60_000, 10)
  const held = heldRead<string>()
  const both = Promise.all([records.get('a', held.read), records.get('a', held.read)])
  held.answer('first')
  t.same(await both, ['first', 'first'])
  t.equal(held.calls(), 1, 'one read')
  t.equal(records.peek('a'), 'first', 'kept')
})

t.test('a record forgotten while it was being read is read again, and the older answer is not kept', async (t) => {
  const records = new FreshRecords<string>(60_000, 10)
  const before = heldRead<string>()
  const pending = records.get('a', before.read)
  // this replica changed the record while a read begun before the change was in flight
  records.forget('a')
  const after = heldRead<string>()
  const fresh = records.get('a', after.read)
  t.equal(after.calls(), 1, 'the request after the change does not join the older read')
  before.answer('before the change')
  t.equal(await pending, 'before the change', 'the older read still answers its own caller')
  t.equal(records.peek('a'), undefined, 'but is not kept')
  after.answer('after the change')
  t.equal(await fresh, 'after the change')
  t.equal(records.peek('a'), 'after the change')
})

t.test('at most maxEntries are kept, the oldest dropped first', async (t) => {
  const records = new FreshRecords<number>(60_000, 2)
  for (const [key, value] of [['a', 1], ['b', 2], ['c', 3]] as const) await records.get(key, async () => value)
  t.same([records.peek('a'), records.peek('b'), records.peek('c')], [undefined, 2, 3])
})
