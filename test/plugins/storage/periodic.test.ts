import t from 'tap'
import { mock } from 'node:test'
import { runBackingOff, runEvery } from '../../../src/plugins/app/storage/periodic.js'

// Node's mock clock: the rounds' timers run only as the test moves time on, so no figure here depends on the machine
mock.timers.enable({ apis: ['setTimeout', 'Date'] })
t.teardown(() => mock.timers.reset())

/** Moves the mock clock on by `ms`, 1 ms at a time, letting the rounds' promises settle before and after each step. */
async function advance (ms: number): Promise<void> {
  await settle()
  for (let i = 0; i < ms; i++) {
    mock.timers.tick(1)
    await settle()
  }
}

async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

function countedTask (busy: () => boolean): { task: () => Promise<boolean>, rounds: number[] } {
  const rounds: number[] = []
  return { rounds, task: async () => { rounds.push(Date.now()); return busy() } }
}

t.test('rounds that find nothing wait twice as long each time, up to the idle wait', async (t) => {
  const { task, rounds } = countedTask(() => false)
  const start = Date.now()
  const schedule = runBackingOff(() => 10, () => 200, task, undefined, 'failed')
  await advance(1000)
  await schedule.stop()
  const waits = rounds.map((at, i) => at - (i === 0 ? start : rounds[i - 1] as number))
  t.same(waits.slice(0, 7), [10, 20, 40, 80, 160, 200, 200])
})

t.test('a round with work brings the wait back to the base interval', async (t) => {
  let busy = false
  const { task, rounds } = countedTask(() => busy)
  const start = Date.now()
  const schedule = runBackingOff(() => 10, () => 1000, task, undefined, 'failed')
  await advance(300)
  busy = true
  await advance(100)
  await schedule.stop()
  t.same(rounds.map((at) => at - start), [10, 30, 70, 150, 310, 320, 330, 340, 350, 360, 370, 380, 390, 400])
})

t.test('wake brings a long idle wait forward to the base interval', async (t) => {
  const { task, rounds } = countedTask(() => false)
  const start = Date.now()
  const schedule = runBackingOff(() => 10, () => 60000, task, undefined, 'failed')
  await advance(1300)
  schedule.wake()
  await advance(1300)
  await schedule.stop()
  // without the wake the eighth round would have come at 2550
  t.same(rounds.map((at) => at - start), [10, 30, 70, 150, 310, 630, 1270, 1310, 1330, 1370, 1450, 1610, 1930, 2570])
})

t.test('wake during a round makes the next wait the base interval', async (t) => {
  let release: () => void = () => {}
  const rounds: number[] = []
  const schedule = runBackingOff(() => 10, () => 60000, async () => {
    rounds.push(Date.now())
    if (rounds.length === 4) await new Promise<void>((resolve) => { release = resolve })
    return false
  }, undefined, 'failed')
  await advance(150) // the fourth round (at 150) is in progress
  t.equal(rounds.length, 4)
  schedule.wake()
  release()
  await advance(10)
  t.equal(rounds.length, 5, 'the round after the woken one came 10 ms later, not 160')
  await schedule.stop()
})

t.test('a failed round is retried at the base interval', async (t) => {
  const rounds: number[] = []
  const warnings: unknown[] = []
  const log = { warn: (obj: unknown) => warnings.push(obj) } as unknown as Parameters<typeof runBackingOff>[3]
  const schedule = runBackingOff(() => 10, () => 60000, async () => {
    rounds.push(Date.now())
    throw new Error('database away')
  }, log, 'failed')
  await advance(55)
  await schedule.stop()
  t.equal(rounds.length, 5)
  t.equal(warnings.length, 5)
})

t.test('stop ends the rounds', async (t) => {
  const { task, rounds } = countedTask(() => true)
  const schedule = runBackingOff(() => 10, () => 1000, task, undefined, 'failed')
  await advance(25)
  await schedule.stop()
  schedule.wake()
  await advance(100)
  t.equal(rounds.length, 2)
})

t.test('runEvery keeps its interval, after failed rounds too, until stopped', async (t) => {
  const rounds: number[] = []
  const start = Date.now()
  const stop = runEvery(() => 10, async () => {
    rounds.push(Date.now())
    if (rounds.length === 2) throw new Error('database away')
  }, { warn: () => {} } as unknown as Parameters<typeof runEvery>[2], 'failed')
  await advance(55)
  await stop()
  await advance(50)
  t.same(rounds.map((at) => at - start), [10, 20, 30, 40, 50])
})
