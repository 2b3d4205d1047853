import t from 'tap'
import { bearer, build, userWithToken } from '../helper.js'

/**
 * Every change an admin makes is an entry of the tenant's log saying from where and on which route it came
 * (src/http/request-origin.ts). Behind a proxy (TRUST_PROXY) the address is what X-Forwarded-For said, which
 * need not be an address at all; the event's ip field holds addresses only, so such a change is recorded
 * from 0.0.0.0, and still made. Before the one origin helper, a webhook change passed the forwarded text on
 * as the event's ip: its log entry was refused and the admin got a 500 for a change that was not made.
 */
const FORWARDED = { 'x-forwarded-for': 'unknown' }

t.test('changes behind a proxy that forwarded no address are made, and recorded with the route they came by', async (t) => {
  const app = await build(t, { config: { TRUST_PROXY: true, WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } })
  const admin = bearer(await userWithToken(app, { username: 'origin-admin', roles: ['admin', 'reader'], tenant: 'origin' }))
  const headers = { ...admin, ...FORWARDED }

  const changes = [
    { method: 'POST' as const, url: '/tenant/webhooks', payload: { url: 'http://127.0.0.1:9/hook' }, type: 'audit.admin.webhook_created', location: 'POST /tenant/webhooks' },
    { method: 'PUT' as const, url: '/tenant/retention', payload: { days: 400 }, type: 'audit.admin.retention_changed', location: 'PUT /tenant/retention' },
    { method: 'PUT' as const, url: '/tenant/log-access', payload: { public: true }, type: 'audit.admin.log_access_changed', location: 'PUT /tenant/log-access' },
    { method: 'PUT' as const, url: '/tenant/event-type-policy', payload: { strict: true }, type: 'audit.admin.event_type_policy_changed', location: 'PUT /tenant/event-type-policy' },
    { method: 'POST' as const, url: '/tenant/api-keys', payload: { name: 'sender', roles: ['writer'] }, type: 'audit.admin.api_key_created', location: 'POST /tenant/api-keys' }
  ]
  for (const change of changes) {
    const res = await app.inject({ method: change.method, url: change.url, headers, payload: change.payload })
    t.ok(res.statusCode < 300, `${change.location}: ${res.statusCode} ${res.body.slice(0, 200)}`)
    const found = await app.inject({ method: 'GET', url: `/events?event_type=${change.type}`, headers: admin })
    const [entry] = found.json().items as Array<{ ip: string, location: string }>
    t.match(entry, { ip: '0.0.0.0', location: change.location }, `${change.type}: from 0.0.0.0, on its route`)
  }
})

t.test('a forwarded address is the one recorded', async (t) => {
  const app = await build(t, { config: { TRUST_PROXY: true, WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } })
  const admin = bearer(await userWithToken(app, { username: 'origin-admin', roles: ['admin', 'reader'], tenant: 'origin-2' }))
  const res = await app.inject({
    method: 'POST',
    url: '/tenant/webhooks',
    headers: { ...admin, 'x-forwarded-for': '203.0.113.7' },
    payload: { url: 'http://127.0.0.1:9/hook' }
  })
  t.equal(res.statusCode, 201)
  const found = await app.inject({ method: 'GET', url: '/events?event_type=audit.admin.webhook_created', headers: admin })
  t.match(found.json().items[0], { ip: '203.0.113.7', location: 'POST /tenant/webhooks' })
})
