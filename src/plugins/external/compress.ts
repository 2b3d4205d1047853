import fp from 'fastify-plugin'
import compress from '@fastify/compress'
import type { FastifyInstance } from 'fastify'

/**
 * Content-Encoding both ways, with @fastify/compress.
 * - Requests: gzip and deflate bodies are decoded (large batches travel well compressed), identity is read as
 *   it is, and the coding's name is case-insensitive (x-gzip is gzip). Fastify holds the
 *   decoded size to the route's bodyLimit, so a small bomb is a 413; any other encoding is a 415 (plain
 *   JSON labelled `br` is not read as is) and a body that does not decode is a 400.
 * - Responses: gzip or deflate when the client's Accept-Encoding asks and the body is over 1 KiB: exports
 *   (streamed through the compressor as they are produced) and large pages. No brotli: at its default
 *   quality it costs far more CPU than gzip on the two cores this runs on.
 * @see https://github.com/fastify/fastify-compress
 */
async function compressPlugin (fastify: FastifyInstance) {
  // the library compares the header's exact text; RFC 9110 §8.4.1 makes codings case-insensitive, and x-gzip gzip
  fastify.addHook('onRequest', function normalizeContentEncoding (request, _reply, done) {
    const coding = request.headers['content-encoding']
    if (typeof coding === 'string') {
      const normalized = coding.trim().toLowerCase()
      request.headers['content-encoding'] = normalized === 'x-gzip' ? 'gzip' : normalized
    }
    done()
  })
  await fastify.register(compress, {
    global: true,
    encodings: ['gzip', 'deflate'],
    // identity is no coding at all: the body is read as it is
    requestEncodings: ['gzip', 'deflate', 'identity'],
    threshold: 1024,
    customTypes: /^(application\/(json|x-ndjson)|text\/csv)/
  })
}

export default fp(compressPlugin, { fastify: '5.x', name: 'compress' })
