import t from 'tap'
import { createHmac, randomUUID } from 'node:crypto'
import { bearer, build, createUser, testConfig, TEST_SECRET, testUid } from '../helper.js'

/**
 * What a token may say (RFC 8725; docs/security.md#tokens): we issue HS256 tokens ourselves, so we accept `alg`
 * HS256, `typ` absent or JWT, `aud` one string equal to ours, `iss` ours and `exp` present, and refuse every
 * header parameter that would let the token choose its key or extend the rules (`kid`, `jku`, `jwk`, `x5u`, `x5c`,
 * `crit`, ...). Each refusal is a 401, never a 500; tokens are signed by hand with the right secret, so only the
 * policy can refuse them.
 */
const config = testConfig()
const USER = { username: 'token-user', tenant: 'tenant-a', roles: ['reader' as const] }

type Json = Record<string, unknown>

function claims (overrides: Json = {}): Json {
  const now = Math.floor(Date.now() / 1000)
  return {
    sub: USER.username,
    tenant: USER.tenant,
    roles: USER.roles,
    ver: 0,
    uid: testUid(USER.username),
    iss: config.JWT_ISSUER,
    aud: config.JWT_AUDIENCE,
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    ...overrides
  }
}

function without (name: string): Json {
  const all = claims()
  delete all[name]
  return all
}

/** Any header and payload, HS256-signed with the service's own secret. */
function signed (header: unknown, payload: Json): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${input}.${createHmac('sha256', TEST_SECRET).update(input).digest('base64url')}`
}

const HS256 = { alg: 'HS256', typ: 'JWT' }
const jwk = { kty: 'oct', k: Buffer.from(TEST_SECRET).toString('base64url') }

const accepted: Array<[string, string]> = [
  ['alg HS256, typ JWT (as we issue)', signed(HS256, claims())],
  ['typ absent', signed({ alg: 'HS256' }, claims())],
  ['typ jwt in lower case (media types are case-insensitive)', signed({ alg: 'HS256', typ: 'jwt' }, claims())]
]

const refused: Array<[string, string]> = [
  ['aud an array holding only our audience', signed(HS256, claims({ aud: [config.JWT_AUDIENCE] }))],
  ['aud an array holding our audience and another', signed(HS256, claims({ aud: [config.JWT_AUDIENCE, 'other-api'] }))],
  ['aud another audience', signed(HS256, claims({ aud: 'other-api' }))],
  ['aud absent', signed(HS256, without('aud'))],
  ['iss an array holding our issuer', signed(HS256, claims({ iss: [config.JWT_ISSUER] }))],
  ['iss another issuer', signed(HS256, claims({ iss: 'someone-else' }))],
  ['exp absent', signed(HS256, without('exp'))],
  ['a kid header', signed({ ...HS256, kid: 'key-1' }, claims())],
  ['an empty kid header', signed({ ...HS256, kid: '' }, claims())],
  ['a jku header', signed({ ...HS256, jku: 'https://attacker.example/jwks.json' }, claims())],
  ['a jwk header', signed({ ...HS256, jwk }, claims())],
  ['an x5u header', signed({ ...HS256, x5u: 'https://attacker.example/cert.pem' }, claims())],
  ['an x5c header', signed({ ...HS256, x5c: ['MIIB'] }, claims())],
  ['an x5t header', signed({ ...HS256, x5t: 'abc' }, claims())],
  ['a crit header', signed({ ...HS256, crit: ['exp'] }, claims())],
  ['an empty crit header', signed({ ...HS256, crit: [] }, claims())],
  ['a cty header (a nested token)', signed({ ...HS256, cty: 'JWT' }, claims())],
  ['an unknown header parameter', signed({ ...HS256, zip: 'DEF' }, claims())],
  ['typ at+jwt', signed({ alg: 'HS256', typ: 'at+jwt' }, claims())],
  ['typ not a string', signed({ alg: 'HS256', typ: 1 }, claims())],
  ['alg hs256 in lower case', signed({ alg: 'hs256', typ: 'JWT' }, claims())],
  ['alg absent', signed({ typ: 'JWT' }, claims())],
  ['a header that is an array', signed([HS256], claims())],
  ['a header that is a string', signed('HS256', claims())],
  ['a header that is null', signed(null, claims())]
]

t.test('tokens as we issue them are accepted; every other form is a 401', async (t) => {
  const app = await build(t)
  await createUser(app, USER)
  for (const [name, token] of accepted) {
    const response = await app.inject({ method: 'GET', url: '/me', headers: bearer(token) })
    t.equal(response.statusCode, 200, `accepted: ${name}`)
  }
  const issued = await app.inject({ method: 'GET', url: '/me', headers: bearer(app.loginService.issueToken({ ...USER, token_version: 0, uid: testUid(USER.username) }).access_token) })
  t.equal(issued.statusCode, 200, 'a token the service issued is accepted')
  for (const [name, token] of refused) {
    for (const url of ['/me', '/events']) {
      const response = await app.inject({ method: 'GET', url, headers: bearer(token) })
      t.equal(response.statusCode, 401, `refused on ${url}: ${name}`)
      t.equal(response.json().code, 'AUTH_UNAUTHORIZED', `the usual 401 body on ${url}: ${name}`)
    }
  }
})
