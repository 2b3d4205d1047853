import t from 'tap'
import { bearer, build, userWithToken } from '../helper.js'

/**
 * GET /events/facets: the most frequent values of a field among a search's matches (#30), each count what
 * GET /events itself returns for that value; erased and absent values are not values; another tenant's events
 * never count. Access records are on, hidden by the filter the viewer uses, and the read leaves its own entry.
 */
const rows: Array<[string, string | null, string]> = [
  ['Login', 'alice', 'ok'], ['Login', 'alice', 'ok'], ['Login', 'bob', 'ok'], ['Login', 'bob', 'Card charged'], ['Login', null, 'ok'],
  ['Charge', 'alice', 'Card charged'], ['Charge', 'carol', 'Card charged'], ['Charge', null, 'ok'],
  ['Logout', 'dave', 'ok']
]

t.test('top values of a field, each count the API answer for that value', async (t) => {
  const app = await build(t, { config: { AUDIT_ACCESS: true } })
  const reader = bearer(await userWithToken(app, { username: 'facet-reader', roles: ['reader'], tenant: 'facets' }))
  const events = rows.map(([eventType, username, description]) => ({
    event_type: eventType, username: username ?? 'to-erase', entitytype: 'account', ip: '10.0.0.1', location: 'Oslo', description
  }))
  for (const tenant of ['facets', 'facets-other']) {
    const writer = bearer(await userWithToken(app, { username: `writer-${tenant}`, roles: ['writer'], tenant }))
    t.equal((await app.inject({ method: 'POST', url: '/events/batch', headers: writer, payload: { events } })).statusCode, 200, `stored in ${tenant}`)
  }
  // as an erasure leaves them (the erasure itself is tested in test/erasure/)
  await app.mongo.db?.collection('events').updateMany({ username: 'to-erase' }, { $set: { username: null } })
  const hide = 'event_type_not_prefix=audit.'
  const facets = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/events/facets?${query}`, headers: reader })
    t.equal(res.statusCode, 200, `${query} → 200 (${res.body.slice(0, 100)})`)
    return res.json() as { field: string, values: Array<{ value: string, count: number }>, exact: boolean }
  }

  const types = await facets(`field=event_type&${hide}`)
  t.same(types, { field: 'event_type', values: [{ value: 'Login', count: 5 }, { value: 'Charge', count: 3 }, { value: 'Logout', count: 1 }], exact: true })
  t.comment(`counted by: ${app.eventFacets.grouping ?? 'nothing yet'}`)
  // the same answer where the database cannot group (FerretDB versions without $group): counted in memory
  const grouping = app.eventFacets.grouping
  app.eventFacets.grouping = 'stream'
  t.same(await facets(`field=event_type&${hide}`), types, 'counted in memory: the same answer')
  t.same((await facets(`field=username&limit=2&${hide}`)).values, [{ value: 'alice', count: 3 }, { value: 'bob', count: 2 }], 'and its limit')
  app.eventFacets.grouping = grouping
  t.same((await facets(`field=event_type&limit=2&${hide}`)).values.map((row) => row.value), ['Login', 'Charge'], 'limit: the most frequent first')

  const users = await facets(`field=username&${hide}`)
  t.same(users.values, [
    { value: 'alice', count: 3 }, { value: 'bob', count: 2 }, { value: 'carol', count: 1 }, { value: 'dave', count: 1 }
  ], 'erased (null) usernames are no value; ties by value')
  for (const { value, count } of users.values) {
    const page = await app.inject({ method: 'GET', url: `/events?username=${value}&${hide}&limit=100`, headers: reader })
    t.equal(page.json().items.length, count, `${value}: the count is what GET /events returns`)
  }

  t.same((await facets(`field=username&event_type=Charge&${hide}`)).values.map((row) => row.value), ['alice', 'carol'], 'within the search only')
  t.same((await facets(`field=username&username_not=alice&q=charged&${hide}`)).values, [{ value: 'bob', count: 1 }, { value: 'carol', count: 1 }],
    'with the new filters too')
  t.same((await facets('field=event_type&event_type_prefix=audit.')).values.map((row) => row.value).sort(), ['audit.read.events', 'audit.read.facets'],
    'the reads left their entries, the facets read among them')

  for (const query of ['field=timestamp', '', 'field=username&limit=101', 'field=username&afterSeq=1', 'field=username&cursor=x']) {
    const res = await app.inject({ method: 'GET', url: `/events/facets?${query}`, headers: reader })
    t.equal(res.statusCode, 400, `${query || 'no field'} → 400`)
  }
  const writer = bearer(await userWithToken(app, { username: 'facet-writer', roles: ['writer'], tenant: 'facets' }))
  t.equal((await app.inject({ method: 'GET', url: '/events/facets?field=username', headers: writer })).statusCode, 403, 'the reader role')
})
