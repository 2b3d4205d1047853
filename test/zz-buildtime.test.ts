import t from 'tap'
import { build, testConfig } from './helper.js'
import { buildApp } from '../src/app.js'
t.test('build cost', async (t) => {
  await build(t)
  for (let i = 0; i < 3; i++) {
    const a = performance.now()
    const app = await buildApp({ config: testConfig() })
    const b = performance.now()
    await app.ready()
    const c = performance.now()
    await app.close()
    t.comment(`buildApp ${(b - a).toFixed(0)} ms, ready ${(c - b).toFixed(0)} ms, close ${(performance.now() - c).toFixed(0)}`)
  }
})
