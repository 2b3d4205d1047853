import t from 'tap'
import { Type } from '@sinclair/typebox'
import { validatorCompiler } from '../../src/validation/compilers.js'

const schema = Type.Object({ at: Type.Optional(Type.String({ format: 'date-time' })), n: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })) })
const compile = validatorCompiler([])
const body = compile({ schema, httpPart: 'body', method: 'POST', url: '/' }) as (data: unknown) => boolean
const query = compile({ schema, httpPart: 'querystring', method: 'GET', url: '/' }) as (data: unknown) => boolean

t.test('a date-time must be RFC 3339 and holdable by a Date: a leap second is refused', async (t) => {
  t.ok(body({ at: '2024-01-01T00:00:00Z' }))
  t.ok(body({ at: '2024-01-01T00:00:00.123+02:00' }))
  t.notOk(body({ at: '2016-12-31T23:59:60Z' }), 'valid RFC 3339, but stored it would become an invalid date')
  t.notOk(body({ at: '2024-01-01' }), 'a date alone is not a date-time')
  t.notOk(query({ at: '2016-12-31T23:59:60Z' }), 'query strings too')
})

t.test('bodies are not coerced, query strings are', async (t) => {
  t.notOk(body({ n: '10' }), 'a string is not an integer in a body')
  const data = { n: '10' }
  t.ok(query(data))
  t.same(data, { n: 10 })
})

t.test('a request schema with a number lacking finite bounds is refused at startup, naming the route and the field', async (t) => {
  const unbounded = [
    Type.Object({ n: Type.Integer({ minimum: 0 }) }),
    Type.Object({ n: Type.Number({ maximum: 5 }) }),
    Type.Object({ a: Type.Array(Type.Integer({ minimum: 0, maximum: Infinity })) }),
    // a number may go past 2^53 (it is a double anyway); an integer may not
    Type.Object({ v: Type.Union([Type.Number({ minimum: 0, maximum: 2 ** 60 }), Type.Integer({ minimum: 0, maximum: 2 ** 60 })]) })
  ]
  for (const schema of unbounded) {
    t.throws(
      () => compile({ schema, httpPart: 'querystring', method: 'GET', url: '/x' }),
      /unbounded numbers in a request schema: GET \/x querystring\//
    )
  }
  const Shared = Type.Object({ seq: Type.Integer({ minimum: 0 }) }, { $id: 'SharedUnbounded' })
  const withShared = validatorCompiler([Shared])
  t.throws(
    () => withShared({ schema: Type.Object({ s: Type.Ref(Shared) }), httpPart: 'body', method: 'POST', url: '/y' }),
    /POST \/y body\/s\(SharedUnbounded\)\/seq: integer without a finite maximum/,
    'through a reference to a shared component too'
  )
  const bounded = Type.Object({ n: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), k: Type.Literal(3) })
  t.doesNotThrow(() => compile({ schema: bounded, httpPart: 'querystring', method: 'GET', url: '/x' }), 'bounded numbers and literals are fine')
})
