import t from 'tap'
import { bearer, build, userWithToken } from '../helper.js'
import { numberBoundsProblem } from '../../src/validation/number-bounds.js'

/**
 * JSON has no Infinity, but JSON.parse turns a number too large for a double (1e400) into one, which the
 * database cannot store: it is a 400 naming the path, at any depth, in one event or in a batch.
 */
t.test('a number that overflows to Infinity in event_specificdetails is a 400 naming its path', async (t) => {
  const app = await build(t)
  const headers = { ...bearer(await userWithToken(app, { username: 'inf-writer', roles: ['writer'] })), 'content-type': 'application/json' }
  const base = '{"event_type":"A","username":"u","entitytype":"e","ip":"10.0.0.1","location":"l","description":"d","event_specificdetails":'
  const cases: Array<[string, string, string, RegExp]> = [
    ['/events', `${base}{"amount":1e400}}`, 'top-level key', /body\/event_specificdetails\/amount must be a finite number/],
    ['/events', `${base}{"a":{"b":[1,-1e400]}}}`, 'nested in an array', /body\/event_specificdetails\/a\/b\/1 must be a finite number/],
    [
      '/events/batch',
      `{"events":[${base}{}},${base}{"x":1e999}}]}`,
      'batch item 1',
      /body\/events\/1\/event_specificdetails\/x must be a finite number/
    ]
  ]
  for (const [url, payload, name, message] of cases) {
    const res = await app.inject({ method: 'POST', url, headers, payload })
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.match(res.json().message, message, `${name}: the message names the path`)
  }
  t.equal(await app.mongo.db!.collection('events').countDocuments({}), 0, 'nothing stored')
  const ok = await app.inject({ method: 'POST', url: '/events', headers, payload: `${base}{"big":1.7e308,"small":-5e-324}}` })
  t.equal(ok.statusCode, 201, 'the largest finite doubles are fine')
})

/** Every schema object in the document (parameters, bodies, answers, components), with where it is. */
function numericSchemas (node: unknown, path: string, into: Array<[string, Record<string, unknown>]>): void {
  if (node === null || typeof node !== 'object') return
  if (Array.isArray(node)) return node.forEach((inner, i) => numericSchemas(inner, `${path}/${i}`, into))
  const schema = node as Record<string, unknown>
  const types = Array.isArray(schema.type) ? schema.type : [schema.type]
  if (types.includes('integer') || types.includes('number')) into.push([path, schema])
  for (const [key, inner] of Object.entries(schema)) {
    if (key !== 'examples' && key !== 'example' && key !== 'default') numericSchemas(inner, `${path}/${key}`, into)
  }
}

t.test('every integer and number of the API document has a finite minimum and maximum, integers within 2^53 - 1', async (t) => {
  const app = await build(t)
  const numbers: Array<[string, Record<string, unknown>]> = []
  numericSchemas(app.swagger(), '', numbers)
  t.ok(numbers.length >= 40, `the document's numbers are all found (${numbers.length})`)
  const problems = numbers.flatMap(([path, schema]) => {
    const problem = numberBoundsProblem(schema)
    return problem === undefined ? [] : [`${path}: ${problem}`]
  })
  t.same(problems, [], 'none is unbounded')
})

const BAD_QUERY_NUMBERS = ['1e400', 'Infinity', '-1e400', '-Infinity', '9007199254740993', '1e16']

interface Operation { parameters?: Array<{ name: string, in: string, required?: boolean, schema: Record<string, unknown> }> }

/** The first allowed value of a parameter that is a choice (an enum, or a union of constants), if it is one. */
function firstChoice (schema: Record<string, unknown>): string | undefined {
  if (Array.isArray(schema.enum)) return String(schema.enum[0])
  const first = Array.isArray(schema.anyOf) ? (schema.anyOf[0] as { const?: unknown } | undefined) : undefined
  return first?.const === undefined ? undefined : String(first.const)
}

t.test('every numeric query, path and header parameter of every route refuses Infinity and numbers past 2^53 - 1 with a 400 naming it', async (t) => {
  const app = await build(t)
  const headers = bearer(await userWithToken(app, { username: 'inf-all', roles: ['admin', 'writer', 'reader'] }))
  const paths = (app.swagger() as { paths: Record<string, Record<string, Operation>> }).paths
  let tried = 0
  for (const [template, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const parameters = operation.parameters ?? []
      const isNumber = (schema: Record<string, unknown>) => schema.type === 'integer' || schema.type === 'number'
      for (const target of parameters.filter((parameter) => isNumber(parameter.schema))) {
        for (const bad of BAD_QUERY_NUMBERS) {
          // every other parameter valid: numbers 1, a choice's first value, ids of the right form; required ones present
          const value = (parameter: { name: string, schema: Record<string, unknown> }) =>
            parameter === target ? bad : isNumber(parameter.schema) ? '1' : firstChoice(parameter.schema) ?? '0'.repeat(24)
          let url = template
          const query = new URLSearchParams()
          const sent: Record<string, string> = {}
          for (const parameter of parameters) {
            if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, value(parameter))
            else if (parameter !== target && parameter.required !== true) continue
            else if (parameter.in === 'query') query.set(parameter.name, value(parameter))
            else if (parameter.in === 'header') sent[parameter.name] = value(parameter)
          }
          const res = await app.inject({
            method: method.toUpperCase() as 'GET',
            url: `${url}${query.size > 0 ? `?${query}` : ''}`,
            headers: { ...headers, ...sent }
          })
          const part = { query: 'querystring', path: 'params', header: 'headers' }[target.in]
          const name = `${method.toUpperCase()} ${template} ${target.in} ${target.name}=${bad}`
          t.equal(res.statusCode, 400, `${name}: 400`)
          t.equal(res.json().code, 'VALIDATION_FAILED', `${name}: VALIDATION_FAILED`)
          t.match(res.json().message, `${part}/${target.name} must be`, `${name}: the message names it`)
          tried++
        }
      }
    }
  }
  // afterSeq on 4 routes, limit on 3, tree_size on 3, seq, from, to, level, index
  t.ok(tried >= 15 * BAD_QUERY_NUMBERS.length, `every numeric parameter was tried (${tried} requests)`)
})

/** The numeric fields of every request body, with a body that is valid but for the number put at that field. */
const BODY_NUMBERS: Record<string, { url: string, body: (n: string) => string, finiteDoubles?: true }> = {
  'POST /tenant/webhooks body/start_after_seq': {
    url: '/tenant/webhooks',
    body: (n) => `{"url":"https://hooks.example.com/x","start_after_seq":${n}}`
  },
  'PATCH /tenant/webhooks/{id} body/resume_after_seq': { url: `/tenant/webhooks/${'0'.repeat(24)}`, body: (n) => `{"resume_after_seq":${n}}` },
  'PUT /tenant/retention body/days': { url: '/tenant/retention', body: (n) => `{"days":${n}}` },
  'POST /tenant/erasures body/match/details/value': {
    url: '/tenant/erasures',
    body: (n) => `{"match":{"details":{"path":"amount","value":${n}}},"reason":"DSR-1"}`,
    finiteDoubles: true
  }
}

/** `METHOD path body/a/b` for every integer or number a request body of the document can hold. */
interface Document { paths: Record<string, Record<string, { requestBody?: unknown }>>, components: { schemas: Record<string, unknown> } }

function bodyNumbers (doc: Document) {
  const found = new Set<string>()
  function walk (schema: unknown, where: string, seen: Set<unknown>): void {
    if (schema === null || typeof schema !== 'object' || seen.has(schema)) return
    const node = schema as Record<string, unknown>
    if (typeof node.$ref === 'string') return walk(doc.components.schemas[node.$ref.split('/').pop() as string], where, new Set([...seen, schema]))
    if (node.type === 'integer' || node.type === 'number') found.add(where)
    for (const [name, inner] of Object.entries((node.properties ?? {}) as Record<string, unknown>)) walk(inner, `${where}/${name}`, seen)
    for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
      for (const inner of (node[key] ?? []) as unknown[]) walk(inner, where, seen)
    }
    if (node.items !== undefined) walk(node.items, `${where}/0`, seen)
  }
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const content = (operation.requestBody as { content?: Record<string, { schema: unknown }> } | undefined)?.content ?? {}
      for (const { schema } of Object.values(content)) walk(schema, `${method.toUpperCase()} ${path} body`, new Set())
    }
  }
  return [...found].sort()
}

t.test('every numeric body field refuses 1e400, -1e400 and integers past 2^53 - 1 with a 400 naming it, and nothing is created', async (t) => {
  const app = await build(t)
  const token = await userWithToken(app, { username: 'inf-admin', roles: ['admin', 'writer', 'reader'] })
  const headers = { ...bearer(token), 'content-type': 'application/json' }
  t.same(Object.keys(BODY_NUMBERS).sort(), bodyNumbers(app.swagger() as never), 'the cases cover every number a request body holds')
  for (const [name, { url, body, finiteDoubles }] of Object.entries(BODY_NUMBERS)) {
    const method = name.split(' ')[0] as 'POST'
    const field = name.split(' ')[2] as string
    for (const bad of finiteDoubles === true ? ['1e400', '-1e400', '1e99999'] : ['1e400', '-1e400', '9007199254740993', '1e300']) {
      const res = await app.inject({ method, url, headers, payload: body(bad) })
      t.equal(res.statusCode, 400, `${name} = ${bad}: 400 (${res.body.slice(0, 160)})`)
      t.equal(res.json().code, 'VALIDATION_FAILED', `${name} = ${bad}: VALIDATION_FAILED`)
      t.match(res.json().message, `${field} must be`, `${name} = ${bad}: the message names the field`)
    }
  }
  t.equal((await app.inject({ method: 'GET', url: '/tenant/webhooks', headers })).json().items.length, 0, 'no webhook was created')
  t.equal((await app.inject({ method: 'GET', url: '/tenant/erasures', headers })).json().items.length, 0, 'no erasure was requested')
})
