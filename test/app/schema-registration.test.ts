import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A plugin that calls `fastify.addSchema` gets a schema controller of its own, and with it Fastify's default Ajv
 * instead of the service's validators (validation/compilers.ts): bodies were then coerced (`"public": null`
 * taken for false, `1` for true) and unknown fields stripped, as the fuzzer found on PUT /tenant/log-access.
 * Shared schemas are registered once, in schemas/shared.ts; nothing else may call it.
 */
function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [])
}

t.test('only the swagger wrapper registers schemas, from SHARED_SCHEMAS', async (t) => {
  const callers = sources('src').filter((file) => /\bfastify\.addSchema\(/.test(readFileSync(file, 'utf8')))
  t.same(callers, [join('src', 'plugins', 'external', 'swagger.ts')])
})
