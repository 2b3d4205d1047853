import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods, RouteOptions } from 'fastify'

/**
 * Fastify answers 404 both for a path nothing serves and for a path served under other methods only.
 * HTTP (RFC 9110 §15.5.6) calls the second 405 Method Not Allowed, with an `Allow` header listing what
 * the path does serve, so a client learns it used the wrong verb rather than a wrong URL. This plugin
 * owns the answer to every request no route takes: 405 with Allow, or else 404.
 *
 * Routes are collected as they are added (`onRoute`, so this plugin is registered before the routes).
 * For a request no route matched, each method in use is tried against the concrete URL with
 * `fastify.findRoute`, which runs the router's own matching (parameters, wildcards, trailing slashes).
 * GET routes come with Fastify's automatic HEAD route, so HEAD is listed beside GET.
 *
 * A path that is a static route is that resource, even where a parametric route of another method would
 * also take it: `/events/batch` is the POST-only batch resource, although `GET /events/:id` would read
 * `batch` as an id (and refuse it with 400). So `GET /events/batch` is a 405 with `Allow: POST`, as the
 * OpenAPI document says, and the parametric GET route never sees it.
 *
 * The answer is given in an onRequest hook, before the body is read: the method alone decides it, so a
 * 405 does not depend on the body's content type or syntax.
 */
async function methodNotAllowedPlugin (fastify: FastifyInstance) {
  const routedMethods = new Set<string>()
  const staticPaths = new Set<string>()
  /** `METHOD /path` of requests a parametric route would take from a static path of other methods. */
  const shadowed = new Map<string, string[]>()

  fastify.addHook('onRoute', function collectRoutes (route: RouteOptions) {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) routedMethods.add(method.toUpperCase())
    if (!/[:*]/.test(route.url)) staticPaths.add(route.url)
  })

  fastify.addHook('onReady', async function findShadowedPaths () {
    for (const path of staticPaths) {
      const allowed = allowedMethods(path)
      for (const method of routedMethods) {
        if (!allowed.includes(method) && fastify.findRoute({ method: method as HTTPMethods, url: path }) !== null) {
          shadowed.set(`${method} ${path}`, allowed)
        }
      }
    }
  })

  /** The methods the URL's path is served under, most specific routes only, sorted; empty when unknown. */
  function allowedMethods (url: string): string[] {
    const matches: Array<{ method: string, params: number }> = []
    for (const method of routedMethods) {
      const route = fastify.findRoute({ method: method as HTTPMethods, url })
      if (route !== null) matches.push({ method, params: Object.keys(route.params).length })
    }
    const mostSpecific = Math.min(...matches.map((match) => match.params))
    return matches.filter((match) => match.params === mostSpecific).map((match) => match.method).sort()
  }

  fastify.addHook('onRequest', async function refuseUnservedMethod (request: FastifyRequest, reply: FastifyReply) {
    const path = request.url.split('?')[0] ?? ''
    const allowed = request.is404 ? allowedMethods(request.url) : shadowed.get(`${request.method} ${path}`)
    // a route that exists for this very method but sent its request to the 404 handler (callNotFound) gets 404
    if (allowed === undefined || allowed.length === 0 || allowed.includes(request.method)) return
    return await reply.code(405).header('allow', allowed.join(', ')).send({
      statusCode: 405,
      code: 'METHOD_NOT_ALLOWED',
      error: 'Method Not Allowed',
      message: `Route ${request.method} ${path} not allowed; this path serves ${allowed.join(', ')}`
    })
  })

  fastify.setNotFoundHandler(function handleNotFound (request: FastifyRequest, reply: FastifyReply) {
    return reply.code(404).send({
      statusCode: 404,
      code: 'ROUTE_NOT_FOUND',
      error: 'Not Found',
      message: `Route ${request.method} ${request.url.split('?')[0]} not found`
    })
  })
}

export default fp(methodNotAllowedPlugin, { fastify: '5.x', name: 'method-not-allowed' })
