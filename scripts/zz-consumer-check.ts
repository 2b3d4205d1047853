import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { buildApp } from '../src/app.js'
import { loadConfig, toAppConfig } from '../src/config.js'
const secret = 'x'.repeat(40)
const config = toAppConfig(loadConfig({ MONGODB_URL: process.env.MONGODB_URL, JWT_SECRET: secret, MONGODB_DATABASE: 'consumer_check_' + process.pid, LOG_LEVEL: 'silent', STREAM_POLL_MS: 20 }), { url: process.env.MONGODB_URL!, secret })
const app = await buildApp({ config })
const address = await app.listen({ port: 0, host: '127.0.0.1' })
const user = await app.userStore.create({ username: 'c', roles: ['reader', 'writer'], tenant: 't', password: 'a-long-password-here' })
const token = app.loginService.issueToken(user).access_token
writeFileSync('/tmp/consumer-port.mjs', readFileSync('/tmp/consumer.mjs', 'utf8').replaceAll('http://localhost:3000', address))
const ev = { event_type: 'A', username: 'u', entitytype: 'e', ip: '10.0.0.1', location: 'l', description: 'd' }
await app.inject({ method: 'POST', url: '/events/batch', headers: { authorization: `Bearer ${token}` }, payload: { events: [ev, ev] } })
const child = spawn(process.execPath, ['/tmp/consumer-port.mjs', '0'], { env: { ...process.env, TOKEN: token } })
let out = ''
child.stdout.on('data', (c) => { out += c })
child.stderr.on('data', (c) => { out += c })
await new Promise((r) => setTimeout(r, 1500))
await app.inject({ method: 'POST', url: '/events/batch', headers: { authorization: `Bearer ${token}` }, payload: { events: [ev] } })
await new Promise((r) => setTimeout(r, 1500))
child.kill()
console.log(out.split('\n').filter(Boolean).map((l) => l.slice(0, 60)).join('\n'))
await app.mongo.db?.dropDatabase()
await app.close()
