import fastJsonStringify, { type AnySchema, type Schema } from 'fast-json-stringify'
import type { FastifySerializerCompiler } from 'fastify'
import type { TSchema } from '@sinclair/typebox'

/**
 * Fastify's own response serializer (fast-json-stringify), given only the shared schemas a response
 * references, directly or through another shared schema. Fastify's default hands every serializer all of
 * them, and fast-json-stringify checks each one it is given against the JSON Schema meta-schema again: the
 * ~40 shared schemas times ~200 serializers were most of the app's startup, paid by every test that builds
 * the app (figures in BENCHMARKS.md). What a response serializes is unchanged: a reference it needs and is
 * not given would stop the app at startup.
 */
export function serializerCompiler (shared: TSchema[]): FastifySerializerCompiler<TSchema> {
  const byId = new Map<string, TSchema>()
  for (const schema of shared) if (typeof schema.$id === 'string') byId.set(schema.$id, schema)
  return function compile ({ schema }) {
    const external: Record<string, TSchema> = {}
    collectReferenced(schema, byId, external)
    // as Fastify's default does: a schema that is itself shared is the root, not also an external one
    if (typeof schema.$id === 'string') delete external[schema.$id]
    // TypeBox's TSchema and fast-json-stringify's types describe the same JSON Schema documents, differently
    return fastJsonStringify(schema as AnySchema, {
      schema: external as unknown as Record<string, Schema>,
      // a serializer only writes strings out; the service's own formats (validation/compilers.ts) are known to it,
      // not to fast-json-stringify's Ajv, which otherwise warns at every compile
      ajv: { formats: { 'ip-address': true } }
    })
  }
}

/** Adds to `into` every shared schema that `value` names in a `$ref` (`Id` or `Id#/pointer`), and theirs. */
function collectReferenced (value: unknown, byId: Map<string, TSchema>, into: Record<string, TSchema>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectReferenced(item, byId, into)
    return
  }
  if (value === null || typeof value !== 'object') return
  for (const [key, child] of Object.entries(value)) {
    if (key === '$ref' && typeof child === 'string') {
      const id = child.split('#')[0] as string
      const target = byId.get(id)
      if (target !== undefined && into[id] === undefined) {
        into[id] = target
        collectReferenced(target, byId, into)
      }
    } else {
      collectReferenced(child, byId, into)
    }
  }
}
