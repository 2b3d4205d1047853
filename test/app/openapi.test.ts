import t from 'tap'
import { readFileSync } from 'node:fs'
import { build } from '../helper.js'
import { ERROR_CODES } from '../../src/errors.js'
import { DETAILS_JSON_MAX_LENGTH } from '../../src/validation/details-query.js'
import { DATE_TIME_PATTERN } from '../../src/http/openapi-contract.js'

const committed = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))

t.test('the committed openapi/openapi.json is what the code generates (run `npm run openapi` after changing a route)', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), committed)
})

t.test('the document names the bearer scheme and every operation has tags, a summary and an error schema', async (t) => {
  t.match(committed.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: /POST \/login.*API key.*METRICS_TOKEN/ })
  for (const [path, item] of Object.entries<Record<string, any>>(committed.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      t.ok(operation.tags?.length > 0, `${method} ${path} has tags`)
      t.ok(typeof operation.summary === 'string' && operation.summary.length > 0, `${method} ${path} has a summary`)
      const errorStatuses = Object.keys(operation.responses).filter((status) => Number(status) >= 400)
      // liveness answers while the process runs at all: it has no error to document
      if (path !== '/health/live') t.ok(errorStatuses.length > 0, `${method} ${path} documents its errors`)
      // a request the route validates can be refused as such: the bounded fuzzer found four routes that did not say so
      if ((operation.parameters ?? []).length > 0 || operation.requestBody !== undefined) t.ok(operation.responses['400'], `${method} ${path} documents its 400`)
      for (const status of errorStatuses) {
        t.equal(
          operation.responses[status].content['application/json'].schema.$ref,
          '#/components/schemas/Error',
          `${method} ${path} ${status} uses the shared error schema`
        )
      }
    }
  }
})

t.test('what SDK generators need: operationIds, optional defaults, one enum per closed set, real descriptions', async (t) => {
  const operationIds: string[] = []
  for (const [path, item] of Object.entries<Record<string, any>>(committed.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      t.match(operation.operationId, /^[a-z][A-Za-z]+$/, `${method} ${path} has a camelCase operationId`)
      operationIds.push(operation.operationId)
      t.ok(typeof operation.description === 'string' && operation.description.length > 0, `${method} ${path} has a description`)
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        t.not(response.description, 'Default Response', `${method} ${path} ${status} has a real description`)
      }
      for (const parameter of operation.parameters ?? []) {
        if (parameter.schema?.default !== undefined) {
          t.equal(parameter.required, false, `${method} ${path} ${String(parameter.name)} has a default, so it is optional`)
        }
      }
    }
  }
  t.equal(new Set(operationIds).size, operationIds.length, 'operationIds are unique')
  t.same(
    operationIds.filter((id) =>
      [
        'login',
        'getMe',
        'createEvent',
        'createEventBatch',
        'listEvents',
        'getEvent',
        'exportEvents',
        'listUsers',
        'createUser',
        'getUser',
        'updateUser',
        'deleteUser'
      ].includes(id)
    ).length,
    12
  )

  const text = JSON.stringify(committed)
  t.notOk(/"anyOf":\[\{"type":"string","enum":\["[^"]*"\]\}/.test(text.replace(/\s/g, '')), 'no anyOf of one-value enums anywhere')
  const order = committed.paths['/events'].get.parameters.find((parameter: any) => parameter.name === 'order')
  t.same(order.schema, { type: 'string', enum: ['desc', 'asc'], default: 'desc' })
  const format = committed.paths['/events/export'].get.parameters.find((parameter: any) => parameter.name === 'format')
  t.same(format.schema.enum, ['ndjson', 'csv'])
  t.same(committed.components.schemas.Error.properties.code.enum, [...ERROR_CODES], 'every error code, in one enum')

  for (const path of ['/events', '/event', '/events/export']) {
    const details = committed.paths[path].get.parameters.find((parameter: any) => parameter.name === 'details')
    t.match(
      details,
      { in: 'query', style: 'deepObject', explode: true, required: false, schema: { type: 'object' } },
      `${path} describes details as a deepObject`
    )
  }
  t.match(committed.servers, [{ url: '/', description: /This service/, 'x-internal': false }])
  t.ok(committed.info.license?.name && committed.info.contact?.name, 'license and contact')
  for (const name of ['Event', 'EventPage', 'IngestResult', 'BatchResult', 'BatchItemResult', 'Error', 'User', 'Token']) {
    t.ok(committed.components.schemas[name], `component ${name}`)
  }
})

t.test('Swagger UI is served at /docs, as this service', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger/i)
  t.match(res.body, /<title>Audit Log Service: API<\/title>/)
  const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
  t.match(initializer.body, /"layout":\s*"BaseLayout"/, 'no framework top bar (logo and Explore box)')
  t.match(initializer.body, /"persistAuthorization":\s*true/)
})

/** Every schema object of the document with where it is, examples left out (they are values, not schemas). */
function * schemas (node: unknown, path = '#'): Generator<[string, Record<string, any>]> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield * schemas(item, `${path}/${i}`)
    return
  }
  if (node === null || typeof node !== 'object') return
  const object = node as Record<string, unknown>
  if (typeof object.type === 'string') yield [path, object]
  for (const [key, value] of Object.entries(object)) {
    if (key !== 'example' && key !== 'examples') yield * schemas(value, `${path}/${key}`)
  }
}

function * operations (document: any): Generator<[string, any]> {
  for (const [path, item] of Object.entries<Record<string, any>>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) yield [`${method} ${path}`, operation]
  }
}

/**
 * Names a generator would make twice: Go's openapi-generator makes `New<Model>`, `New<Model>WithDefaults` and
 * `Nullable<Model>` (and `NewNullable<Model>`) for every model, so a component called `NewUser` beside `User` did not compile.
 */
function collidingNames (names: string[]): string[] {
  const taken = new Set(names)
  return names.flatMap((name) => [`New${name}`, `New${name}WithDefaults`, `Nullable${name}`, `NewNullable${name}`])
    .filter((generated) => taken.has(generated))
}

t.test('what every generator takes unmodified (Go, Java, TypeScript, Python): #29', async (t) => {
  await t.test('no component is named as another one\'s generated constructor', async (t) => {
    t.same(collidingNames(['User', 'NewUser', 'Webhook', 'NullableWebhook']), ['NewUser', 'NullableWebhook'], 'the check sees a collision')
    t.same(collidingNames(Object.keys(committed.components.schemas)), [])
    t.ok(committed.components.schemas.UserInput && committed.components.schemas.WebhookInput, 'UserInput and WebhookInput')
  })

  await t.test('every integer has a format, int64 wherever its bounds pass int32', async (t) => {
    let wide = 0
    for (const [where, schema] of schemas(committed)) {
      if (schema.type !== 'integer') continue
      t.ok(typeof schema.minimum === 'number' && typeof schema.maximum === 'number', `${where} is bounded`)
      const needs64 = !(schema.minimum >= -(2 ** 31) && schema.maximum <= 2 ** 31 - 1)
      if (needs64) wide++
      t.equal(schema.format, needs64 ? 'int64' : 'int32', `${where}: ${String(schema.format)}`)
    }
    t.ok(wide > 50, `${wide} 64-bit integers (seq, tree_size, afterSeq...)`)
    const afterSeq = committed.paths['/events'].get.parameters.find((parameter: any) => parameter.name === 'afterSeq')
    t.equal(afterSeq.schema.format, 'int64', 'afterSeq')
    t.equal(committed.components.schemas.Event.properties.seq.format, 'int64', 'Event.seq')
  })

  await t.test('every string, array and object map is bounded, in requests and responses', async (t) => {
    const streamed = new Set(['text/plain', 'text/csv', 'application/x-ndjson', 'text/event-stream'])
    for (const [where, schema] of schemas(committed)) {
      if (schema.type === 'string' && ![...streamed].some((type) => where.includes(`/${type.replace('/', '~1')}/`) || where.includes(`/${type}/`))) {
        t.ok(schema.maxLength !== undefined || schema.enum !== undefined, `${where} has a maxLength`)
      }
      if (schema.type === 'array') t.ok(schema.maxItems !== undefined, `${where} has a maxItems`)
    }
  })

  await t.test('one bearer scheme: tokens, API keys and the metrics token', async (t) => {
    const schemes = Object.entries<any>(committed.components.securitySchemes)
    t.same(schemes.filter(([, scheme]) => scheme.type === 'http' && scheme.scheme === 'bearer').map(([name]) => name), ['bearerAuth'])
    t.same(committed.paths['/metrics'].get.security, [{ bearerAuth: [] }])
  })

  await t.test('every error status has its own example, the same on every operation', async (t) => {
    const byStatus = new Map<string, Set<string>>()
    for (const [name, operation] of operations(committed)) {
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        if (Number(status) < 400) continue
        const example = response.content?.['application/json']?.example
        t.equal(example?.statusCode, Number(status), `${name} ${status} has an example of its own status`)
        t.ok(ERROR_CODES.includes(example?.code), `${name} ${status}: a real code`)
        byStatus.set(status, (byStatus.get(status) ?? new Set()).add(JSON.stringify(example)))
      }
    }
    for (const [status, examples] of byStatus) t.equal(examples.size, 1, `${status}: one example`)
    const all = [...byStatus.values()].map((examples) => [...examples][0])
    t.equal(new Set(all).size, all.length, 'no two error statuses share an example')
    t.ok(byStatus.size >= 8, `${byStatus.size} error statuses`)
  })

  await t.test('500 on every operation, 429 (with Retry-After and rate-limit headers) wherever a rate limit applies', async (t) => {
    const exempt = new Set(['get /health/live', 'get /health/ready', 'get /metrics'])
    for (const [name, operation] of operations(committed)) {
      t.ok(operation.responses['500'], `${name} documents 500`)
      if (exempt.has(name)) {
        t.notOk(operation.responses['429'], `${name} is not rate limited`)
        continue
      }
      t.same(operation.responses['429']?.headers?.['Retry-After'], { $ref: '#/components/headers/Retry-After' }, `${name}: 429 with Retry-After`)
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        if (!/^[24]/.test(status)) continue
        t.same(response.headers?.['X-RateLimit-Limit'], { $ref: '#/components/headers/X-RateLimit-Limit' }, `${name} ${status}: X-RateLimit-Limit`)
      }
    }
  })

  t.match(committed.components.headers, {
    'Retry-After': { schema: { type: 'integer', format: 'int32' } },
    'X-RateLimit-Limit': { schema: { type: 'integer', format: 'int64' } }
  })

  await t.test('no query parameter is prefilled by an example; info.version is the package\'s', async (t) => {
    for (const [name, operation] of operations(committed)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in !== 'query') continue
        // an empty map is no filter: the details deepObject has one, so that Swagger UI prefills nothing rather than a made-up map
        const example = parameter.example ?? parameter.examples ?? parameter.schema?.example ?? parameter.schema?.examples
        const filtersNothing = example !== null && typeof example === 'object' && Object.keys(example).length === 0
        t.ok(example === undefined || filtersNothing, `${name} ${String(parameter.name)} is prefilled with no filter`)
      }
    }
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    t.equal(committed.info.version, version)
  })

  await t.test('no required query parameter is a date-time (Go checked its maxLength on a time.Time); RFC 3339 is its pattern', async (t) => {
    const pattern = new RegExp(DATE_TIME_PATTERN)
    let required = 0
    for (const [name, operation] of operations(committed)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in !== 'query' || parameter.required !== true) continue
        t.not(parameter.schema?.format, 'date-time', `${name} ${String(parameter.name)} has no date-time format`)
        if (parameter.schema?.pattern === DATE_TIME_PATTERN) required++
      }
    }
    t.ok(required >= 2, `${required} required time parameters say RFC 3339 by pattern (the histogram's timeStart and timeEnd)`)
    const optional = committed.paths['/events'].get.parameters.find((parameter: any) => parameter.name === 'timeStart')
    t.equal(optional.schema.format, 'date-time', 'an optional one keeps its format')
    for (const text of ['2026-12-07T10:00:00Z', '2026-12-07 10:00:00.123+01:00', '2026-12-07t10:00:00-0530']) t.match(text, pattern)
    for (const text of ['2026-12-07T10:00:00', '2026-12-07', 'yesterday']) t.notMatch(text, pattern, `${text} is refused`)
  })

  await t.test('EventInput.ip is one string schema; details can be sent without deepObject (details_json)', async (t) => {
    const ip = committed.components.schemas.EventInput.properties.ip
    t.equal(ip.type, 'string')
    t.notOk(ip.anyOf ?? ip.oneOf, 'no anyOf of formats: generated clients took it for a wrapper type')
    for (const path of ['/events', '/event', '/events/export', '/events/stream', '/events/histogram']) {
      const json = committed.paths[path].get.parameters.find((parameter: any) => parameter.name === 'details_json')
      t.match(json, { in: 'query', required: false, schema: { type: 'string', maxLength: DETAILS_JSON_MAX_LENGTH } }, `${path} takes details_json`)
      t.ok(committed.paths[path].get.parameters.find((parameter: any) => parameter.name === 'details'), `${path} keeps details`)
    }
  })
})
