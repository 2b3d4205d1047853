import Fastify, { type FastifyInstance } from 'fastify'
import autocannon from 'autocannon'
import { Writable } from 'node:stream'
import { loadavg } from 'node:os'
import { OneLineRequestLog } from '../src/http/request-log.js'

/**
 * Per-request logging at `info`: Fastify's two lines per request (incoming, completed) against one line
 * (src/http/request-log.ts). A bare Fastify with the service's redaction and one route, its log counted
 * and dropped: the difference is the logging. Interleaved rounds, so load from others hits both alike.
 * `npx tsx bench/request-logging.ts [requests per round] [rounds]`
 */
const requests = Number(process.argv[2] ?? 20000)
const rounds = Number(process.argv[3] ?? 3)

interface Variant { name: string, oneLine: boolean, rates: number[], bytesPerRequest: number, linesPerRequest: number }

async function measure (variant: Variant): Promise<void> {
  let bytes = 0
  let lines = 0
  const sink = new Writable({
    write (chunk: Buffer, _encoding, done) {
      bytes += chunk.length
      lines += chunk.toString().split('\n').length - 1
      done()
    }
  })
  const app: FastifyInstance = Fastify({
    logger: { level: 'info', stream: sink, redact: { paths: ['req.headers.authorization'], censor: '[redacted]' } },
    ...(variant.oneLine ? { logController: new OneLineRequestLog() } : {})
  })
  app.get('/ping', async () => ({ status: 'ok' }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const before = { bytes, lines }
  const started = process.hrtime.bigint()
  const result = await autocannon({ url: `http://127.0.0.1:${port}/ping`, connections: 50, amount: requests })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  variant.rates.push(result['2xx'] / seconds)
  variant.bytesPerRequest = (bytes - before.bytes) / result['2xx']
  variant.linesPerRequest = (lines - before.lines) / result['2xx']
  await app.close()
}

const variants: Variant[] = [
  { name: 'two lines (Fastify default)', oneLine: false, rates: [], bytesPerRequest: 0, linesPerRequest: 0 },
  { name: 'one line (OneLineRequestLog)', oneLine: true, rates: [], bytesPerRequest: 0, linesPerRequest: 0 }
]
for (let round = 0; round < rounds; round++) {
  for (const variant of variants) await measure(variant)
}
for (const v of variants) {
  console.log(
    `${v.name}: ${v.rates.map((r) => Math.round(r)).join(', ')} req/s; ${v.linesPerRequest.toFixed(2)} lines, ${Math.round(v.bytesPerRequest)} bytes of log per request`
  )
}
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
