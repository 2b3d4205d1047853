import t from 'tap'
import { Type } from '@sinclair/typebox'
import { serializerCompiler } from '../../src/validation/serializer-compiler.js'

const Leaf = Type.Object({ name: Type.String() }, { $id: 'Leaf', additionalProperties: false })
const Branch = Type.Object({ leaves: Type.Array(Type.Ref(Leaf)) }, { $id: 'Branch', additionalProperties: false })
const Unrelated = Type.Object({ other: Type.String() }, { $id: 'Unrelated', additionalProperties: false })
const compile = serializerCompiler([Leaf, Branch, Unrelated])
const route = { method: 'GET', url: '/x', httpStatus: '200' }

t.test('a response gets the shared schemas it references, through other shared schemas too', async (t) => {
  const serialize = compile({ ...route, schema: Type.Object({ tree: Type.Ref(Branch) }) })
  t.equal(serialize({ tree: { leaves: [{ name: 'a', secret: 'dropped' }] }, extra: 1 }), '{"tree":{"leaves":[{"name":"a"}]}}',
    'Branch and, through it, Leaf serialize as declared: only their own properties')
  t.equal(
    compile({ ...route, schema: Branch })({ leaves: [{ name: 'b' }] }),
    '{"leaves":[{"name":"b"}]}',
    'a shared schema as the response itself'
  )
})

t.test('a reference to a schema nobody shared stops the compile, as with Fastify\'s default', async (t) => {
  t.throws(() => compile({ ...route, schema: Type.Object({ x: Type.Unsafe({ $ref: 'Missing' }) }) }))
})
