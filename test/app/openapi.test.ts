import t from 'tap'
import { readFileSync } from 'node:fs'
import { build } from '../helper.js'

const committed = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))

t.test('the committed openapi/openapi.json is what the code generates (run `npm run openapi` after changing a route)', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), committed)
})

t.test('the document names the bearer scheme and every operation has tags, a summary and an error schema', async (t) => {
  t.same(committed.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /login' })
  for (const [path, item] of Object.entries<Record<string, any>>(committed.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      t.ok(operation.tags?.length > 0, `${method} ${path} has tags`)
      t.ok(typeof operation.summary === 'string' && operation.summary.length > 0, `${method} ${path} has a summary`)
      const errorStatuses = Object.keys(operation.responses).filter((status) => Number(status) >= 400)
      // liveness answers while the process runs at all: it has no error to document
      if (path !== '/health/live') t.ok(errorStatuses.length > 0, `${method} ${path} documents its errors`)
      for (const status of errorStatuses) {
        t.equal(operation.responses[status].content['application/json'].schema.$ref, '#/components/schemas/Error', `${method} ${path} ${status} uses the shared error schema`)
      }
    }
  }
})

t.test('Swagger UI is served at /docs', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger/i)
})
