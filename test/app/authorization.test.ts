import t from 'tap'
import Fastify, { type FastifyInstance, type InjectOptions, type RouteOptions } from 'fastify'
import { createSigner } from 'fast-jwt'
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto'
import { ObjectId } from 'mongodb'
import appPlugin, { buildApp, serverOptions } from '../../src/app.js'
import type { Role } from '../../src/schemas/roles.js'
import { bearer, build, createUser, sampleEvent, testConfig, TEST_SECRET, testUid, userWithToken } from '../helper.js'
import { hashApiKey, newApiKey } from '../../src/plugins/app/access/api-key-store.js'

/**
 * Deny by default, proven on the app's real route table: every route is collected as it is registered,
 * and every protected one is tried with every kind of bad token and with every role.
 */

/** Who may call each route. A new route must be added here, or the inventory test fails. */
const REQUIRED: Record<string, Role | Role[] | 'any valid token'> = {
  'POST /events': 'writer',
  'POST /event': 'writer',
  'POST /events/batch': 'writer',
  'GET /events': 'reader',
  'GET /event': 'reader',
  'GET /events/export': 'reader',
  'GET /events/facets': 'reader',
  'GET /events/histogram': 'reader',
  'GET /events/:id': 'reader',
  'GET /integrity/completeness': 'reader',
  'GET /integrity/checkpoint': ['reader', 'monitor'],
  'GET /integrity/inclusion': 'reader',
  'GET /integrity/consistency': ['reader', 'monitor'],
  'GET /integrity/tiles/:level/:index': ['reader', 'monitor'],
  'GET /logs/:tenant/checkpoint': ['reader', 'monitor'],
  'GET /logs/:tenant/tile/*': ['reader', 'monitor'],
  'GET /tenant/log-access': 'admin',
  'PUT /tenant/log-access': 'admin',
  'GET /integrity/retention-horizon': 'reader',
  'GET /events/:id/proof': 'reader',
  'GET /events/stream': 'reader',
  'GET /me': 'any valid token',
  'POST /users': 'admin',
  'GET /users': 'admin',
  'GET /users/:username': 'admin',
  'PATCH /users/:username': 'admin',
  'DELETE /users/:username': 'admin',
  'GET /tenant/retention': 'admin',
  'PUT /tenant/retention': 'admin',
  'GET /tenant/legal-hold': 'admin',
  'PUT /tenant/legal-hold': 'admin',
  'POST /tenant/legal-hold/lift/approve': 'admin',
  'DELETE /tenant/legal-hold/lift': 'admin',
  'POST /tenant/webhooks': 'admin',
  'GET /tenant/webhooks': 'admin',
  'GET /tenant/webhooks/:id': 'admin',
  'PATCH /tenant/webhooks/:id': 'admin',
  'DELETE /tenant/webhooks/:id': 'admin',
  'POST /tenant/api-keys': 'admin',
  'GET /tenant/api-keys': 'admin',
  'DELETE /tenant/api-keys/:id': 'admin',
  'POST /tenant/erasures': 'admin',
  'GET /tenant/erasures': 'admin',
  'GET /tenant/erasures/:id': 'admin',
  'GET /tenant/event-types': ['admin', 'writer', 'reader'],
  'GET /tenant/event-types/:event_type': ['admin', 'writer', 'reader'],
  'GET /tenant/event-types/:event_type/versions/:version': ['admin', 'writer', 'reader'],
  'GET /tenant/event-types/:event_type/openapi': ['admin', 'writer', 'reader'],
  'PUT /tenant/event-types/:event_type': 'admin',
  'GET /tenant/event-type-policy': ['admin', 'writer', 'reader'],
  'PUT /tenant/event-type-policy': 'admin'
}
// the viewer's files are public: the page holds no data, and every call it makes carries the user's token
const PUBLIC = [
  'GET /health/live',
  'GET /health/ready',
  'GET /integrity/keys',
  'GET /openapi.json',
  'POST /login',
  'GET /ui',
  'GET /ui/',
  'GET /ui/:file'
]

const config = testConfig()
const ISSUER = config.JWT_ISSUER
const AUDIENCE = config.JWT_AUDIENCE
const ALL_ROLES: Role[] = ['admin', 'writer', 'reader', 'monitor']
/** Holds every role, so a 401 below is the token's fault and never a missing role. */
const ROOT = { username: 'root-user', tenant: 'tenant-a', roles: ALL_ROLES }

interface CollectedRoute { method: string, url: string, auth: unknown }

/** The real app, plus every route it registered (HEAD twins of GET routes included). */
async function buildCollecting (): Promise<{ app: FastifyInstance, routes: CollectedRoute[] }> {
  const routes: CollectedRoute[] = []
  const app = Fastify(serverOptions(config))
  app.addHook('onRoute', function collect (route: RouteOptions) {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, auth: route.config?.auth })
  })
  await app.register(appPlugin, { config })
  await app.ready()
  return { app, routes }
}

function key (route: { method: string, url: string }): string {
  return `${route.method} ${route.url}`
}

/** The GET a HEAD twin stands for, so that it is held to the same requirement. */
function requirementOf (route: CollectedRoute): Role | Role[] | 'any valid token' | undefined {
  return REQUIRED[key({ method: route.method === 'HEAD' ? 'GET' : route.method, url: route.url })]
}

function concreteUrl (url: string): string {
  // ids that exist nowhere: an allowed call then ends in 404/400, and nothing is deleted
  // a stream never ends: a parameter it refuses (checked after the token) ends an allowed call in a 400
  if (url === '/events/stream') return `${url}?afterSeq=-1`
  // a tenant log of the tokens' own tenant (tenant-a), at a tile it does not have: an allowed call ends in 404
  return url.replace(':username', 'nobody-here').replace(':id', new ObjectId().toHexString()).replace(':tenant', 'tenant-a').replace('*', '0/000')
}

interface Claims { [claim: string]: unknown }

function validClaims (overrides: Claims = {}): Claims {
  const now = Math.floor(Date.now() / 1000)
  return {
    sub: ROOT.username,
    tenant: ROOT.tenant,
    roles: ROOT.roles,
    ver: 0,
    uid: testUid(ROOT.username),
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    ...overrides
  }
}

function without (claim: string): Claims {
  const claims = validClaims()
  delete claims[claim]
  return claims
}

function hs256 (claims: Claims, secret = TEST_SECRET): string {
  return createSigner({ key: secret, algorithm: 'HS256' })(claims)
}

const rsa = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
})

/** The header and payload as a signer would encode them, signed (or not) by hand. */
function handSigned (header: object, claims: Claims, sign: (input: string) => string): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${input}.${sign(input)}`
}

/** Every way a token can be wrong: each must be a 401, never a 500 and never a pass. */
function badCredentials (
  extra: { disabledToken: string, deletedToken: string, expiredKey: string, forgedKey: string }
): Array<[string, Record<string, string>]> {
  const now = Math.floor(Date.now() / 1000)
  const valid = hs256(validClaims())
  return [
    ['no Authorization header', {}],
    ['an expired token', { authorization: `Bearer ${hs256(validClaims({ iat: now - 600, exp: now - 300 }))}` }],
    ['a wrong signature', { authorization: `Bearer ${hs256(validClaims(), 'another-secret-that-is-long-enough-0123456789')}` }],
    ['the signature stripped', { authorization: `Bearer ${valid.slice(0, valid.lastIndexOf('.') + 1)}` }],
    ['alg none', { authorization: `Bearer ${createSigner({ algorithm: 'none' })(validClaims())}` }],
    [
      'RS256 signed with a generated key pair',
      { authorization: `Bearer ${createSigner({ key: rsa.privateKey, algorithm: 'RS256' })(validClaims())}` }
    ],
    ['HS256 with the RSA public key PEM as secret', { authorization: `Bearer ${hs256(validClaims(), rsa.publicKey)}` }],
    [
      'HS512 with the right secret (algorithm not pinned)',
      {
        authorization: `Bearer ${handSigned({ alg: 'HS512', typ: 'JWT' }, validClaims(), (input) => createHmac('sha512', TEST_SECRET).update(input).digest('base64url'))}`
      }
    ],
    ['no exp', { authorization: `Bearer ${hs256(without('exp'))}` }],
    ['no iat', { authorization: `Bearer ${createSigner({ key: TEST_SECRET, algorithm: 'HS256', noTimestamp: true })(without('iat'))}` }],
    ['no iss', { authorization: `Bearer ${hs256(without('iss'))}` }],
    ['no aud', { authorization: `Bearer ${hs256(without('aud'))}` }],
    ['no sub', { authorization: `Bearer ${hs256(without('sub'))}` }],
    ['a wrong audience', { authorization: `Bearer ${hs256(validClaims({ aud: 'some-other-api' }))}` }],
    ['a wrong issuer', { authorization: `Bearer ${hs256(validClaims({ iss: 'someone-else' }))}` }],
    ['a future nbf', { authorization: `Bearer ${hs256(validClaims({ nbf: now + 300 }))}` }],
    ['no jti', { authorization: `Bearer ${hs256(without('jti'))}` }],
    ['an empty jti', { authorization: `Bearer ${hs256(validClaims({ jti: '' }))}` }],
    ['a jti that is not a string', { authorization: `Bearer ${hs256(validClaims({ jti: 42 }))}` }],
    ['an iat 5 minutes in the future', { authorization: `Bearer ${hs256(validClaims({ iat: now + 300, exp: now + 600 }))}` }],
    ['an exp ten years ahead', { authorization: `Bearer ${hs256(validClaims({ exp: now + 10 * 365 * 86400 }))}` }],
    [
      'a lifetime just over JWT_TTL plus the clock skew',
      { authorization: `Bearer ${hs256(validClaims({ iat: now - 60, exp: now - 60 + config.JWT_TTL + 31 }))}` }
    ],
    [
      'an iat that is not a number',
      {
        authorization: `Bearer ${handSigned({ alg: 'HS256', typ: 'JWT' }, validClaims({ iat: String(now) }), (input) => createHmac('sha256', TEST_SECRET).update(input).digest('base64url'))}`
      }
    ],
    ['no uid (incarnation)', { authorization: `Bearer ${hs256(without('uid'))}` }],
    ['another incarnation of the user', { authorization: `Bearer ${hs256(validClaims({ uid: 'uid-of-an-earlier-root-user' }))}` }],
    ['a tenant the user does not belong to', { authorization: `Bearer ${hs256(validClaims({ tenant: 'tenant-b' }))}` }],
    ['malformed header: Bearer alone', { authorization: 'Bearer' }],
    ['malformed header: not a JWT', { authorization: 'Bearer not-a-jwt' }],
    ['malformed header: garbage segments', { authorization: 'Bearer a.b.c' }],
    ['malformed header: undecodable JSON', { authorization: `Bearer ${Buffer.from('{"alg":').toString('base64url')}.e30.sig` }],
    ['malformed header: trailing words', { authorization: `Bearer ${valid} extra` }],
    ['malformed header: Basic credentials', { authorization: 'Basic dXNlcjpjb3JyZWN0IGhvcnNl' }],
    ['malformed header: another scheme with a valid token', { authorization: `Token ${valid}` }],
    ["a disabled user's token", bearer(extra.disabledToken)],
    ["a deleted user's token", bearer(extra.deletedToken)],
    ['an API key of no record', bearer(newApiKey().key)],
    ['a malformed API key', bearer('alk_0123_short')],
    ['an expired API key', bearer(extra.expiredKey)],
    ["an API key's id with another secret", bearer(extra.forgedKey)]
  ]
}

/** A stored API key of ROOT's tenant with every role a key may hold: its key, or only its id with another secret. */
async function storedKey (app: FastifyInstance, expiresAt?: Date): Promise<{ key: string, forged: string }> {
  const { id, key } = newApiKey()
  await app.apiKeyStore.create({
    _id: id,
    tenant: 'tenant-a',
    name: 'authorization-test',
    roles: ['writer', 'reader'],
    key_sha256: hashApiKey(key),
    created_at: new Date(),
    created_by: 'root',
    ...(expiresAt === undefined ? {} : { expires_at: expiresAt })
  })
  return { key, forged: key.slice(0, 29) + newApiKey().key.slice(29) }
}

const UNAUTHORIZED_BODY = {
  statusCode: 401,
  code: 'AUTH_UNAUTHORIZED',
  error: 'Unauthorized',
  message: 'Missing, invalid or expired access token'
}

t.test('the route inventory: every route declares who may call it, and the table above matches the app', async (t) => {
  await build(t) // schedules this file's database drop
  const { app, routes } = await buildCollecting()
  t.teardown(() => app.close())
  const withoutHead = routes.filter((route) => route.method !== 'HEAD')
  const protectedRoutes = withoutHead.filter((route) => typeof route.auth === 'object').map(key).sort()
  const publicRoutes = withoutHead.filter((route) => route.auth === 'public').map(key).sort()
  const undeclared = withoutHead.filter((route) => route.auth === undefined)
  t.same(protectedRoutes, Object.keys(REQUIRED).sort(), 'protected routes are exactly the table')
  t.same(publicRoutes, [...PUBLIC].sort(), 'public routes are exactly health, login, the spec and the viewer\'s files')
  t.ok(undeclared.every((route) => route.url.startsWith('/docs')), 'only the Swagger UI routes declare nothing')
  for (const route of withoutHead.filter((r) => typeof r.auth === 'object')) {
    const required = REQUIRED[key(route)]
    t.same((route.auth as { roles: Role[] }).roles, required === 'any valid token' ? [] : [required].flat(), `${key(route)} requires ${String(required)}`)
  }
})

t.test('every protected route × every bad token → 401 with WWW-Authenticate: Bearer and the Error body', async (t) => {
  const { app, routes } = await buildCollecting()
  t.teardown(() => app.close())
  await createUser(app, ROOT)
  const disabledToken = await userWithToken(app, { username: 'disabled-user', roles: ALL_ROLES })
  const deletedToken = await userWithToken(app, { username: 'deleted-user', roles: ALL_ROLES })
  await app.userStore.collection.updateOne({ username: 'disabled-user' }, { $set: { disabled: true } })
  await app.userStore.collection.deleteOne({ username: 'deleted-user' })

  const protectedRoutes = routes.filter((route) => requirementOf(route) !== undefined)
  t.ok(protectedRoutes.length >= Object.keys(REQUIRED).length, 'HEAD twins included')
  const expiredKey = (await storedKey(app, new Date(Date.now() - 1000))).key
  const forgedKey = (await storedKey(app)).forged
  const cases = badCredentials({ disabledToken, deletedToken, expiredKey, forgedKey })

  for (const route of protectedRoutes) {
    const request: InjectOptions = { method: route.method as InjectOptions['method'], url: concreteUrl(route.url) }
    // the control: the same route with a well-formed token signed by this test is not refused
    const control = await app.inject({ ...request, headers: bearer(hs256(validClaims())) })
    t.ok(
      control.statusCode !== 401 && control.statusCode !== 403 && control.statusCode < 500,
      `${key(route)} accepts a good token (${control.statusCode})`
    )

    for (const [name, headers] of cases) {
      const res = await app.inject({ ...request, headers })
      t.equal(res.statusCode, 401, `${key(route)} with ${name}`)
      t.equal(res.headers['www-authenticate'], 'Bearer', `${key(route)} with ${name}: WWW-Authenticate`)
      if (route.method !== 'HEAD') t.same(res.json(), UNAUTHORIZED_BODY, `${key(route)} with ${name}: body`)
    }
  }
})

t.test('role × route: a missing role is 403, a held role passes', async (t) => {
  const { app, routes } = await buildCollecting()
  t.teardown(() => app.close())
  const tokens: Record<Role, string> = {
    admin: await userWithToken(app, { username: 'only-admin', roles: ['admin'] }),
    writer: await userWithToken(app, { username: 'only-writer', roles: ['writer'] }),
    reader: await userWithToken(app, { username: 'only-reader', roles: ['reader'] }),
    monitor: await userWithToken(app, { username: 'only-monitor', roles: ['monitor'] })
  }
  for (const route of routes) {
    const required = requirementOf(route)
    if (required === undefined) continue
    for (const role of ALL_ROLES) {
      const res = await app.inject({
        method: route.method as InjectOptions['method'],
        url: concreteUrl(route.url),
        headers: bearer(tokens[role])
      })
      const label = `${role} on ${key(route)}`
      if (required === 'any valid token' || required === role || (Array.isArray(required) && required.includes(role))) {
        t.ok(res.statusCode !== 401 && res.statusCode !== 403 && res.statusCode < 500, `${label} passes (${res.statusCode})`)
      } else {
        t.equal(res.statusCode, 403, label)
        if (route.method !== 'HEAD') {
          t.same(
            res.json(),
            { statusCode: 403, code: 'AUTH_FORBIDDEN', error: 'Forbidden', message: `This route needs the ${[required].flat().join(' or ')} role` },
            `${label}: body`
          )
        }
      }
    }
  }

  // the headline cases, spelled out
  const writer = bearer(tokens.writer)
  t.equal((await app.inject({ method: 'GET', url: '/events', headers: writer })).statusCode, 403, 'a writer cannot read events')
  t.equal((await app.inject({ method: 'GET', url: '/users', headers: writer })).statusCode, 403, 'a writer cannot manage users')
  t.equal(
    (await app.inject({ method: 'POST', url: '/events', headers: bearer(tokens.reader), payload: sampleEvent() })).statusCode,
    403,
    'a reader cannot write'
  )
  t.equal(
    (await app.inject({ method: 'POST', url: '/events', headers: writer, payload: sampleEvent() })).statusCode,
    201,
    'a writer can write'
  )
})

t.test('the original system\'s `Authorization: Bearer: <token>` is accepted', async (t) => {
  const app = await build(t)
  const token = await userWithToken(app, { username: 'legacy-client', roles: ['reader'] })
  const res = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer: ${token}` } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().username, 'legacy-client')
  const events = await app.inject({ method: 'GET', url: '/events', headers: { authorization: `Bearer: ${token}` } })
  t.equal(events.statusCode, 200)
})

t.test('every operation in the OpenAPI document declares bearer security, except the public ones', async (t) => {
  const app = await build(t)
  const document = app.swagger() as unknown as {
    paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>
  }
  const publicOperations = new Set(['get /health/live', 'get /health/ready', 'get /integrity/keys', 'post /login'])
  let checked = 0
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const name = `${method} ${path}`
      if (name === 'get /metrics') {
        t.same(
          operation.security,
          [{ bearerAuth: [] }],
          "GET /metrics names the one bearer scheme; it takes METRICS_TOKEN there, not a user's token (test/routes/metrics.test.ts)"
        )
        continue
      }
      if (publicOperations.has(name)) {
        t.same(operation.security, [], `${name} is public, and says so (security: [])`)
        continue
      }
      checked++
      if (name.startsWith('get /logs/{tenant}/')) {
        // a tenant may make its log public: the credential is then optional, which OpenAPI says with an empty requirement
        t.same(operation.security, [{ bearerAuth: [] }, {}], `${name} takes a bearer token, or none for a public log`)
      } else {
        t.same(operation.security, [{ bearerAuth: [] }], `${name} requires a bearer token`)
      }
      t.ok(operation.responses['401'] !== undefined, `${name} documents 401`)
      t.ok(operation.responses['403'] !== undefined, `${name} documents 403`)
    }
  }
  t.equal(checked, Object.keys(REQUIRED).length, 'every protected route is in the document')
})

t.test('a route registered without config.auth makes the app refuse to start', async (t) => {
  const app = await buildApp({ config })
  t.teardown(() => app.close())
  // not awaited: the error surfaces where a server would see it, when the app is made ready
  app.register(async function forgetful (fastify) {
    fastify.get('/forgotten', async function forgotten () { return 'open to all' })
  })
  await t.rejects(async () => { await app.ready() }, { message: /GET \/forgotten declares no config\.auth/ })

  // the control: the same route declaring itself public starts and answers
  const declared = await buildApp({ config })
  t.teardown(() => declared.close())
  declared.register(async function explicit (fastify) {
    fastify.get('/forgotten', { config: { auth: 'public' } }, async function forgotten () { return 'open to all' })
  })
  await declared.ready()
  t.equal((await declared.inject({ method: 'GET', url: '/forgotten' })).statusCode, 200)
})

t.test('tenant isolation: a reader of tenant A never sees tenant B\'s events, by list, filter, export or id', async (t) => {
  const app = await build(t)
  const writerA = bearer(await userWithToken(app, { username: 'writer-a', roles: ['writer'], tenant: 'iso-a' }))
  const writerB = bearer(await userWithToken(app, { username: 'writer-b', roles: ['writer'], tenant: 'iso-b' }))
  const readerA = bearer(await userWithToken(app, { username: 'reader-a', roles: ['reader'], tenant: 'iso-a' }))

  async function submit (headers: Record<string, string>, username: string): Promise<string> {
    const res = await app.inject({ method: 'POST', url: '/events', headers, payload: sampleEvent({ username }) })
    t.equal(res.statusCode, 201)
    return res.json().id
  }
  const idsA = [await submit(writerA, 'shared-name'), await submit(writerA, 'a-only')]
  const idsB = [await submit(writerB, 'shared-name'), await submit(writerB, 'b-only')]
  // a body cannot smuggle a tenant in
  const smuggled = await app.inject({ method: 'POST', url: '/events', headers: writerB, payload: sampleEvent({ tenant: 'iso-a' }) })
  t.equal(smuggled.statusCode, 400, 'tenant in the body is refused')

  const ids = (res: { json: () => { items: Array<{ id: string, tenant: string }> } }) => res.json().items.map((event) => event.id).sort()

  const list = await app.inject({ method: 'GET', url: '/events', headers: readerA })
  t.equal(list.statusCode, 200)
  t.same(ids(list), [...idsA].sort(), 'the list holds exactly tenant A\'s events')
  t.ok(list.json().items.every((event: { tenant: string }) => event.tenant === 'iso-a'))

  const legacy = await app.inject({ method: 'GET', url: '/event', headers: readerA })
  t.same(ids(legacy), [...idsA].sort(), 'the original path too')

  const shared = await app.inject({ method: 'GET', url: '/events?username=shared-name', headers: readerA })
  t.same(ids(shared), [idsA[0]], 'a filter matching both tenants returns only A\'s')
  const foreign = await app.inject({ method: 'GET', url: '/events?username=b-only', headers: readerA })
  t.same(foreign.json().items, [], 'a filter matching only B\'s events returns nothing')

  const exported = await app.inject({ method: 'GET', url: '/events/export?format=ndjson', headers: readerA })
  t.equal(exported.statusCode, 200)
  const exportedIds = exported.body.trim().split('\n').map((line) => JSON.parse(line).id).sort()
  t.same(exportedIds, [...idsA].sort(), 'the export holds exactly tenant A\'s events')

  const own = await app.inject({ method: 'GET', url: `/events/${idsA[1]}`, headers: readerA })
  t.equal(own.statusCode, 200)
  const foreignId = await app.inject({ method: 'GET', url: `/events/${idsB[0]}`, headers: readerA })
  const missingId = await app.inject({ method: 'GET', url: `/events/${new ObjectId().toHexString()}`, headers: readerA })
  t.equal(foreignId.statusCode, 404, 'a foreign id is 404')
  t.same(foreignId.json(), missingId.json(), 'exactly like a missing one')
})

t.test('a token issued up to 30 s ahead of this clock, with exp - iat up to JWT_TTL + 30 s, is accepted (clock skew)', async (t) => {
  const app = await build(t)
  await createUser(app, { ...ROOT, username: 'skewed-user' })
  const now = Math.floor(Date.now() / 1000)
  const skewed = (overrides: Claims) => validClaims({ sub: 'skewed-user', uid: testUid('skewed-user'), ...overrides })
  for (const [name, claims] of [
    ['iat 20 s ahead', skewed({ iat: now + 20, exp: now + 20 + config.JWT_TTL })],
    ['lifetime JWT_TTL + 29 s', skewed({ iat: now - 60, exp: now - 60 + config.JWT_TTL + 29 })]
  ] as const) {
    t.equal((await app.inject({ method: 'GET', url: '/me', headers: bearer(hs256(claims)) })).statusCode, 200, name)
  }
})
