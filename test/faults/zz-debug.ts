import { createWriterToken, eventIds, mixedClients, runClients, runDatabaseName, sleep, startDatabase, startService, stopService } from './harness.js'
import { startTcpProxy } from './tcp-proxy.js'
const db = await startDatabase()
const proxy = await startTcpProxy({ host: '127.0.0.1', port: db.port })
const database = runDatabaseName('dbg')
const token = await createWriterToken(db.url, database)
const service = await startService({ MONGODB_URL: `mongodb://127.0.0.1:${proxy.port}/`, MONGODB_DATABASE: database, DB_TIMEOUT_MS: '1000', LOG_LEVEL: process.argv[2] ?? 'warn' })
let cutAt = 0; let restoredAt = 0; let outage: Promise<void> | undefined
const t0 = Date.now()
const ledger = await runClients({ baseUrl: service.baseUrl, token, eventIds: eventIds('x', 4000), clients: mixedClients(12, 2, 20), retryDelayMs: 100, requestTimeoutMs: 60000,
  onAttempt (_a, l) { if (outage !== undefined || l.acknowledged.size < 1500) return; outage = (async () => { proxy.cut(); cutAt = Date.now(); await sleep(3000); proxy.restore(); restoredAt = Date.now() })() } })
await outage
console.log('cutAt', cutAt - t0, 'restoredAt', restoredAt - t0, 'end', Date.now() - t0)
const buckets = new Map<number, { n: number, s: Record<string, number>, maxDur: number }>()
for (const a of ledger.attempts) { const k = Math.floor((a.startedAt - t0) / 1000); const b = buckets.get(k) ?? { n: 0, s: {}, maxDur: 0 }; b.n++; const key = String(a.status ?? a.error); b.s[key] = (b.s[key] ?? 0) + 1; b.maxDur = Math.max(b.maxDur, a.endedAt - a.startedAt); buckets.set(k, b) }
for (const [k, b] of [...buckets].sort((x, y) => x[0] - y[0])) console.log(k, JSON.stringify(b))
console.log(service.outputTail().slice(-3000))
console.log("stopping"); await stopService(service); console.log("svc stopped"); await proxy.close(); console.log("proxy closed"); await db.stop(); console.log("db stopped")
