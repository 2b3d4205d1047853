import t from 'tap'
import { readFileSync } from 'node:fs'
import { build } from '../helper.js'
import { ERROR_CODES } from '../../src/errors.js'

const committed = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))

t.test('the committed openapi/openapi.json is what the code generates (run `npm run openapi` after changing a route)', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), committed)
})

t.test('the document names the bearer scheme and every operation has tags, a summary and an error schema', async (t) => {
  t.same(committed.components.securitySchemes.bearerAuth, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from POST /login'
  })
  for (const [path, item] of Object.entries<Record<string, any>>(committed.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      t.ok(operation.tags?.length > 0, `${method} ${path} has tags`)
      t.ok(typeof operation.summary === 'string' && operation.summary.length > 0, `${method} ${path} has a summary`)
      const errorStatuses = Object.keys(operation.responses).filter((status) => Number(status) >= 400)
      // liveness answers while the process runs at all: it has no error to document
      if (path !== '/health/live') t.ok(errorStatuses.length > 0, `${method} ${path} documents its errors`)
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
  t.same(committed.servers, [{ url: '/', description: 'This service' }])
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
