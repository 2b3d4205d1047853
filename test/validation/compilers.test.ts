import t from 'tap'
import { Type } from '@sinclair/typebox'
import { validatorCompiler } from '../../src/validation/compilers.js'

const schema = Type.Object({ at: Type.Optional(Type.String({ format: 'date-time' })), n: Type.Optional(Type.Integer()) })
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
