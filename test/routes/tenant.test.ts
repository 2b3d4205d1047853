import t from 'tap'
import { bearer, build, userWithToken } from '../helper.js'

/** GET/PUT /tenant/retention and /tenant/legal-hold: admins only, bounds from config, confined to the tenant. */
t.test('retention policy and legal hold routes', async (t) => {
  const app = await build(t, { config: { RETENTION_DEFAULT_DAYS: 400, RETENTION_MIN_DAYS: 7, RETENTION_MAX_DAYS: 1000 } })
  const admin = await userWithToken(app, { username: 'pol-admin', roles: ['admin'], tenant: 'tenant-p' })
  const otherAdmin = await userWithToken(app, { username: 'pol-other', roles: ['admin'], tenant: 'tenant-q' })
  const reader = await userWithToken(app, { username: 'pol-reader', roles: ['reader'], tenant: 'tenant-p' })
  const get = async (url: string, token: string) => await app.inject({ method: 'GET', url, headers: bearer(token) })
  const put = async (url: string, token: string, payload: Record<string, unknown>) =>
    await app.inject({ method: 'PUT', url, headers: bearer(token), payload })

  t.same(
    (await get('/tenant/retention', admin)).json(),
    { days: 400, default: true, locked: false, policy_seq: null, horizon: null },
    'the default until the tenant sets its own'
  )
  const set = await put('/tenant/retention', admin, { days: 30 })
  t.equal(set.statusCode, 200)
  t.match(set.json(), { days: 30, default: false, locked: false, policy_seq: Number, updated_by: 'pol-admin', horizon: null })
  t.match((await get('/tenant/retention', admin)).json(), { days: 30, default: false })
  t.same(
    (await get('/tenant/retention', otherAdmin)).json(),
    { days: 400, default: true, locked: false, policy_seq: null, horizon: null },
    'another tenant keeps its own'
  )
  t.equal((await put('/tenant/retention', admin, { days: 0 })).json().days, 0, '0 (forever) is always allowed')

  for (const days of [6, 1001]) {
    const res = await put('/tenant/retention', admin, { days })
    t.equal(res.statusCode, 400, `${days} days is outside 7..1000`)
    t.same([res.json().code, res.json().message], ['VALIDATION_FAILED', 'body/days must be 0 (keep forever) or within 7..1000'])
  }
  for (const payload of [{ days: -1 }, { days: 1.5 }, { days: '30' }, {}, { days: 30, extra: true }]) {
    t.equal((await put('/tenant/retention', admin, payload)).json().code, 'VALIDATION_FAILED', `${JSON.stringify(payload)} is refused`)
  }
  t.equal((await get('/tenant/retention', reader)).statusCode, 403, 'admins only')
  t.equal((await put('/tenant/retention', reader, { days: 30 })).statusCode, 403)

  t.same((await get('/tenant/legal-hold', admin)).json(), { active: false, reason: null, pending_lift: null }, 'no hold at first')
  const hold = await put('/tenant/legal-hold', admin, { active: true, reason: 'Case 2026-114' })
  t.equal(hold.statusCode, 200)
  t.match(hold.json(), { active: true, reason: 'Case 2026-114', updated_by: 'pol-admin' })
  t.match((await get('/tenant/legal-hold', admin)).json(), { active: true, reason: 'Case 2026-114' })
  t.same((await get('/tenant/legal-hold', otherAdmin)).json(), { active: false, reason: null, pending_lift: null }, 'a hold is per tenant')
  t.equal((await put('/tenant/legal-hold', admin, { active: false })).statusCode, 400, 'lifting needs a reason too')
  t.equal((await put('/tenant/legal-hold', admin, { active: true, reason: '' })).statusCode, 400)
  t.equal((await put('/tenant/legal-hold', reader, { active: false, reason: 'x' })).statusCode, 403)
})
