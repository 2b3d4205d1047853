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
    parseJson(request, (body as Buffer).toString('utf8'), done)
  })
}
