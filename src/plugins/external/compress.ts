import fp from 'fastify-plugin'
import compress from '@fastify/compress'
import type { FastifyInstance } from 'fastify'

/**
 * Content-Encoding both ways, with @fastify/compress.
 * - Requests: gzip and deflate bodies are decoded (large batches travel well compressed). Fastify holds the
 *   decoded size to the route's bodyLimit, so a small bomb is a 413; any other encoding is a 415 (plain
 *   JSON labelled `br` is not read as is) and a body that does not decode is a 400.
 * - Responses: gzip or deflate when the client's Accept-Encoding asks and the body is over 1 KiB: exports
 *   (streamed through the compressor as they are produced) and large pages. No brotli: at its default
 *   quality it costs far more CPU than gzip on the two cores this runs on.
 * @see https://github.com/fastify/fastify-compress
 */
async function compressPlugin (fastify: FastifyInstance) {
  await fastify.register(compress, {
    global: true,
    encodings: ['gzip', 'deflate'],
    requestEncodings: ['gzip', 'deflate'],
    threshold: 1024,
    customTypes: /^(application\/(json|x-ndjson)|text\/csv)/
  })
}

export default fp(compressPlugin, { fastify: '5.x', name: 'compress' })
