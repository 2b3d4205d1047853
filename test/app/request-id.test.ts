import t from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helper.js'

/**
 * The client's X-Request-Id becomes the log's request id and is quoted in 5xx bodies: only a short,
 * safe value is taken (at most 64 of [A-Za-z0-9._-]); anything else gets a generated id, and the refused
 * value is logged apart, escaped inside its JSON line.
 */
t.test('X-Request-Id is used only when short and safe; otherwise a generated id, and the refusal is logged', async (t) => {
  const lines: string[] = []
  const app = await buildApp({ config: testConfig() }, { logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } } })
  t.teardown(() => app.close())
  app.get('/explode', { config: { auth: 'public' } }, async function explode () { throw new Error('boom') })
  await app.ready()

  const requestIdOf = async (value: string) => {
    const res = await app.inject({ method: 'GET', url: '/explode', headers: { 'x-request-id': value } })
    t.equal(res.statusCode, 500)
    return res.json().requestId as string
  }
  for (const good of ['req-123', 'A.b_c-9', 'x'.repeat(64), '0b6f6a36-3f52-4a3e-9d53-5b0f4c1c2a11']) {
    t.equal(await requestIdOf(good), good, `${good.slice(0, 20)} is taken as is`)
  }
  const bad = ['x'.repeat(65), '<script>alert(1)</script>', 'a b', 'new\r\nline', 'ü', 'a/b', 'x'.repeat(8192)]
  for (const value of bad) {
    const id = await requestIdOf(value)
    t.not(id, value, `${JSON.stringify(value.slice(0, 20))} is refused`)
    t.match(id, /^[0-9a-f-]{36}$/, 'and replaced by a generated id')
  }
  const missing = await app.inject({ method: 'GET', url: '/explode' })
  t.match(missing.json().requestId, /^[0-9a-f-]{36}$/, 'no header: a generated id')

  const refusals = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'refused the client\'s X-Request-Id')
  t.equal(refusals.length, bad.length, 'each refused value is logged once')
  t.ok(
    refusals.every((entry) => typeof entry.suppliedRequestId === 'string' && entry.suppliedRequestId.length <= 128),
    'truncated in the log'
  )
})
