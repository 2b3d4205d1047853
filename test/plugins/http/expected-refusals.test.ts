import t from 'tap'
import { bearer, build, userWithToken } from '../../helper.js'

/**
 * A 503 the service gives on purpose at one of its bounds (QUERY_CAPACITY here) is logged as a refusal, at info
 * and without a stack: a person clicking fast makes these, and at error level they buried the real faults (#30).
 * The log lines are read from the app's own logger, its level raised for the test.
 */
t.test('an expected refusal (503 QUERY_CAPACITY) is logged at info, without a stack', async (t) => {
  const app = await build(t)
  const token = await userWithToken(app, { username: 'clicker', roles: ['reader'], tenant: 'refusals' })
  const lines: Array<Record<string, unknown>> = []
  const log = app.log as unknown as Record<symbol, unknown> & { level: string }
  // pino's destination, found by its symbol's name (pino is Fastify's, not a dependency of ours)
  const stream = Object.getOwnPropertySymbols(app.log).find((symbol) => symbol.description === 'pino.stream')
  if (stream === undefined) throw new Error('the logger has no pino.stream')
  log[stream] = { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }
  log.level = 'info'

  // the tenant's share of reads is taken: the next read is refused at once
  const releases = Array.from({ length: app.scanAdmission.options.perTenant }, () => app.scanAdmission.admit('refusals'))
  const refused = await app.inject({ method: 'GET', url: '/events', headers: bearer(token) })
  for (const release of releases) release()
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'QUERY_CAPACITY')
  t.equal(refused.headers['retry-after'], '1', 'with Retry-After')

  const entry = lines.find((line) => (line as { code?: string }).code === 'QUERY_CAPACITY')
  t.ok(entry, 'the refusal is logged')
  t.equal(entry?.level, 30, 'at info')
  t.equal(entry?.msg, 'request refused')
  t.equal(entry?.err, undefined, 'without the error and its stack')
  t.notOk(lines.some((line) => Number(line.level) >= 50), 'nothing at error level')
})
