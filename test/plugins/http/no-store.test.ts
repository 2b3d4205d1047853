import t from 'tap'
import { bearer, build, createUser, TEST_PASSWORD, userWithToken } from '../../helper.js'

/** Tokens and audit data are never kept by a cache (RFC 6749 §5.1; RFC 9111 no-store). */
t.test('POST /login, /me, every /events read and /users* answer Cache-Control: no-store', async (t) => {
  const app = await build(t)
  await createUser(app, { username: 'cache-login', roles: ['reader'] })
  const headers = bearer(await userWithToken(app, { username: 'cache-all', roles: ['admin', 'reader', 'writer'] }))
  const posted = await app.inject({
    method: 'POST',
    url: '/events',
    headers,
    payload: { event_type: 'A', username: 'u', entitytype: 'e', ip: '10.0.0.1', location: 'l', description: 'd' }
  })
  t.equal(posted.statusCode, 201)
  const id = posted.json().id as string

  const login = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username: 'cache-login', password: TEST_PASSWORD, tenant: 'tenant-a' }
  })
  t.equal(login.statusCode, 200)
  t.equal(login.headers['cache-control'], 'no-store', 'POST /login (a token)')
  const failed = await app.inject({ method: 'POST', url: '/login', payload: { username: 'cache-login', password: 'wrong password here' } })
  t.equal(failed.headers['cache-control'], 'no-store', 'a failed login too')

  const reads = ['/me', '/events', '/event', `/events/${id}`, '/events/export', '/events/export?format=csv', '/users', '/users/cache-login']
  for (const url of reads) {
    const res = await app.inject({ method: 'GET', url, headers })
    t.equal(res.statusCode, 200, `GET ${url}`)
    t.equal(res.headers['cache-control'], 'no-store', `GET ${url} is no-store`)
  }
  t.equal(posted.headers['cache-control'], 'no-store', 'POST /events')
  const unauthorized = await app.inject({ method: 'GET', url: '/events' })
  t.equal(unauthorized.headers['cache-control'], 'no-store', 'a refused read too')
  const health = await app.inject({ method: 'GET', url: '/health/live' })
  t.equal(health.headers['cache-control'], undefined, 'public routes other than login are left alone')
})
