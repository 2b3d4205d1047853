import type { FastifyPluginAsync } from 'fastify'
import { OPENAPI_PATH } from '../http/doc-paths.js'

/** The generated OpenAPI document, the same one committed as openapi/openapi.json. */
const openapiRoute: FastifyPluginAsync = async function openapiRoute (fastify) {
  fastify.get(OPENAPI_PATH, {
    config: { auth: 'public', rateLimit: false },
    schema: { hide: true }
  }, async function openapiDocument () {
    return fastify.swagger()
  })
}

export default openapiRoute
