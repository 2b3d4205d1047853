import type { Ajv } from 'ajv'

/**
 * The Ajv keyword `x-safe-document` guards the one open object of the schema (event_specificdetails),
 * which JSON Schema alone cannot bound: total serialized size, nesting depth, and keys that the database
 * would read as operators (`$…`) or paths (`a.b`), or that C-string based drivers truncate (NUL),
 * arrays directly inside arrays, which FerretDB cannot store, and numbers that overflowed to Infinity.
 * As a keyword it reports through normal validation, so the 400 names the exact field, batch index included.
 */
export const DETAILS_LIMITS = { maxBytes: 32 * 1024, maxDepth: 8 }

interface Limits { maxBytes: number, maxDepth: number }

/** Why a document is refused, with the path of the offending key, or null when it is fine. */
export function findUnsafe (value: unknown, limits: Limits): { path: string, message: string } | null {
  // depth and keys first: the walk stops at maxDepth, while serializing a document nested thousands of
  // levels deep to measure it overflows the stack (a 500 instead of a 400)
  const problem = walk(value, 1, '', limits.maxDepth)
  if (problem !== null) return problem
  const bytes = Buffer.byteLength(JSON.stringify(value))
  if (bytes > limits.maxBytes) return { path: '', message: `must be at most ${limits.maxBytes} bytes serialized (is ${bytes})` }
  return null
}

function walk (value: unknown, depth: number, path: string, maxDepth: number): { path: string, message: string } | null {
  // JSON.parse reads a number beyond a double's range (1e400) as ±Infinity, which the database cannot store
  if (typeof value === 'number' && !Number.isFinite(value)) return { path, message: 'must be a finite number' }
  if (value === null || typeof value !== 'object') return null
  if (depth > maxDepth) return { path, message: `must be at most ${maxDepth} levels deep` }
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value)
  for (const [key, child] of entries) {
    if (!Array.isArray(value)) {
      if (key.startsWith('$')) return { path: `${path}/${key}`, message: 'key must not start with "$"' }
      if (key.includes('.')) return { path: `${path}/${key}`, message: 'key must not contain "."' }
      if (key.includes('\u0000')) return { path: `${path}/${key.replaceAll('\u0000', '\\u0000')}`, message: 'key must not contain NUL' }
      if (key === '') return { path: `${path}/`, message: 'key must not be empty' }
    } else if (Array.isArray(child)) {
      // FerretDB (the embedded default) cannot store nested arrays and refused such events with a 500
      return { path: `${path}/${key}`, message: 'must not be an array directly inside an array' }
    }
    const problem = walk(child, depth + 1, `${path}/${key}`, maxDepth)
    if (problem !== null) return problem
  }
  return null
}

/** Registers the keyword on an Ajv instance (see validation/compilers.ts). */
export function safeDocumentKeyword (ajv: Ajv): Ajv {
  ajv.addKeyword({
    keyword: 'x-safe-document',
    schemaType: 'object',
    errors: true,
    validate: function validateSafeDocument (
      this: unknown,
      limits: Limits,
      data: unknown,
      _parentSchema?: unknown,
      dataCxt?: { instancePath?: string }
    ) {
      const problem = findUnsafe(data, limits)
      if (problem === null) return true
      const errors = [
        {
          keyword: 'x-safe-document',
          // the path of the document itself (e.g. /events/3/event_specificdetails) then of the offending key:
          // an empty instancePath would make the 400 name only `body`, not the field or batch index
          instancePath: `${dataCxt?.instancePath ?? ''}${problem.path}`,
          message: problem.message,
          params: { path: problem.path }
        }
      ]
      ;(validateSafeDocument as unknown as { errors: unknown }).errors = errors
      return false
    }
  })
  return ajv
}
