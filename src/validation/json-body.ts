import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'
import { BadRequestError } from '../errors.js'

/**
 * The JSON body parser, with one check added to Fastify's own: the bytes must be valid UTF-8 (RFC 8259
 * §8.1). Fastify decodes bodies leniently, so invalid bytes would become U+FFFD and an event would be
 * stored other than it was sent, which an audit log must not do: it is a 400 instead. Parsing itself
 * (empty body, syntax, `__proto__`/`constructor.prototype` refused) is Fastify's default parser.
 */
export function parseJsonAsUtf8 (fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error')
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, function parseUtf8Json (request, body, done) {
    if (!isUtf8(body as Buffer)) {
      done(new BadRequestError('body is not valid UTF-8'), undefined)
      return
    }
    const text = (body as Buffer).toString('utf8')
    parseJson(request, text, (err: Error | null, value?: unknown) => {
      // a lone surrogate (\uD800 escaped without its pair) is no Unicode text: it could not be stored as sent,
      // nor given a canonical form (RFC 8785) for its leaf hash. Looked for only when the body escapes one.
      if (err === null && LONE_SURROGATE_ESCAPE.test(text) && !wellFormed(value)) {
        done(new BadRequestError('body has a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair)'), undefined)
        return
      }
      done(err, value)
    })
  })
}

const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Every string and key in the value is well-formed UTF-16. */
function wellFormed (value: unknown): boolean {
  if (typeof value === 'string') return !LONE_SURROGATE.test(value)
  if (value === null || typeof value !== 'object') return true
  if (Array.isArray(value)) return value.every(wellFormed)
  return Object.entries(value).every(([key, inner]) => wellFormed(key) && wellFormed(inner))
}
