import t from 'tap'
import Fastify from 'fastify'
import { Writable } from 'node:stream'
import { OneLineRequestLog } from '../../src/http/request-log.js'

function capturingApp (level: string): { app: ReturnType<typeof Fastify>, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    }
  })
  const app = Fastify({ logger: { level, stream }, logController: new OneLineRequestLog() })
  app.get('/ping', async () => ({ ok: true }))
  return { app, lines }
}

t.test('at info, a request is one line that says what was asked and how it was answered', async (t) => {
  const { app, lines } = capturingApp('info')
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/ping?x=1' })
  t.equal(res.statusCode, 200)
  const requestLines = lines.filter((line) => line.reqId !== undefined)
  t.equal(requestLines.length, 1, 'one line, not two')
  const [line] = requestLines
  t.equal(line?.msg, 'request completed')
  t.equal(line?.req?.method, 'GET')
  t.equal(line?.req?.url, '/ping?x=1')
  t.equal(line?.res?.statusCode, 200)
  t.type(line?.responseTime, 'number')
})

t.test('at debug, the incoming line is back, for a request that never completes', async (t) => {
  const { app, lines } = capturingApp('debug')
  t.teardown(() => app.close())
  await app.inject({ method: 'GET', url: '/ping' })
  t.same(lines.filter((line) => line.reqId !== undefined).map((line) => line.msg), ['incoming request', 'request completed'])
})
