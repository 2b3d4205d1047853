import t from 'tap'
import { ClockSkew } from '../../../src/plugins/app/storage/clock-skew.js'
import { bearer, build } from '../../helper.js'

/**
 * This replica's clock against the database server's: measured with `hello`'s localTime, reported as a metric and,
 * beyond CLOCK_SKEW_MAX_MS, as a readiness warning (readiness stays 200). The clocks here are injected.
 */
const DAY = 24 * 3600 * 1000
const METRICS_TOKEN = 'metrics-token-for-the-tests-0123456789abcdef'

/** A clock `offsetMs` off the server's at the midpoint of a round trip of `roundTripMs` (its two readings). */
function clockAt (serverMs: number, offsetMs: number, roundTripMs = 0): () => number {
  let reading = serverMs + offsetMs - roundTripMs / 2 - roundTripMs
  return () => (reading += roundTripMs)
}

t.test('the skew is this clock minus the server\'s, warned beyond the bound in either direction', async (t) => {
  const server = Date.parse('2026-12-07T12:00:00.000Z')
  const skew = new ClockSkew(async () => new Date(server), 5000)
  t.equal(skew.skewMs, undefined, 'unknown before the first comparison')
  t.equal(skew.warning, undefined)

  t.equal(await skew.measure(clockAt(server, 3 * DAY)), 3 * DAY, 'three days ahead')
  t.match(skew.warning, { code: 'CLOCK_SKEW', skew_ms: 3 * DAY, max_skew_ms: 5000, message: /ahead of the database server's.*CLOCK_SKEW_MAX_MS/ })

  t.equal(await skew.measure(clockAt(server, -6000)), -6000, 'six seconds behind')
  t.match(skew.warning, { code: 'CLOCK_SKEW', skew_ms: -6000, message: /behind/ })

  await skew.measure(clockAt(server, 4000))
  t.equal(skew.warning, undefined, 'within the bound: no warning')
  await skew.measure(clockAt(server, 0, 40))
  t.equal(skew.skewMs, 0, 'the midpoint of the round trip is compared with the server\'s reading')
  await skew.measure(clockAt(server, 5300, 800))
  t.equal(skew.warning, undefined, 'not warned while the round trip leaves it uncertain whether it is beyond the bound')
})

t.test('through the app: readiness warns CLOCK_SKEW and stays 200, the metric has the skew', async (t) => {
  const app = await build(t, { config: { CLOCK_SKEW_MAX_MS: 5000, METRICS_TOKEN } })
  const agreeing = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(agreeing.statusCode, 200)
  t.notMatch(agreeing.json(), { warnings: [{ code: 'CLOCK_SKEW' }] }, 'no warning while the clocks agree (same machine)')

  // the real server's time, against a clock of this replica three days ahead
  const measured = await app.clockSkew.measure(() => Date.now() + 3 * DAY)
  t.ok(Math.abs(measured - 3 * DAY) < 60000, `about three days ahead (${measured} ms)`)
  const skewed = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(skewed.statusCode, 200, 'readiness stays 200')
  t.match(skewed.json(), { status: 'ok', warnings: [{ code: 'CLOCK_SKEW', max_skew_ms: 5000 }] })
  const metrics = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) })
  const line = metrics.body.split('\n').find((l) => l.startsWith('auditlog_clock_skew_seconds '))
  t.ok(line !== undefined, 'auditlog_clock_skew_seconds is exported')
  t.ok(Math.abs(Number(line?.split(' ')[1]) - 3 * 86400) < 60, `with the skew in seconds (${line})`)
})
