import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { helmetHeaders } from '../plugins/external/helmet.js'
import { NotFoundError } from '../errors.js'
import { projectRoot } from '../project-root.js'

/** Where the viewer is served. */
export const VIEWER_PREFIX = '/ui'

/**
 * The viewer's own CSP, stricter than the one Swagger UI needs: scripts, styles and connections from this
 * origin only, no inline script or style, no eval, no framing, no plugins.
 */
export const VIEWER_CSP = helmetHeaders({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'base-uri': ["'none'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"]
    }
  }
})['content-security-policy'] as string

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/**
 * Every file of the viewer, read once at startup into memory (a few hundred KiB): the committed page and
 * styles (ui/static), the compiled TypeScript (dist/ui, from `npm run build:ui`) and uPlot's two files
 * from node_modules. Nothing is looked up by a client-given path.
 */
export function viewerFiles (root = projectRoot(dirname(fileURLToPath(import.meta.url)))): Map<string, { type: string, body: Buffer }> {
  const files = new Map<string, { type: string, body: Buffer }>()
  const add = (name: string, path: string) => {
    const type = TYPES[extname(name)]
    if (type !== undefined && existsSync(path)) files.set(name, { type, body: readFileSync(path) })
  }
  for (const dir of [join(root, 'ui', 'static'), join(root, 'dist', 'ui')]) {
    if (!existsSync(dir)) continue
    for (const name of readdirSync(dir)) add(name, join(dir, name))
  }
  const uplot = join(root, 'node_modules', 'uplot', 'dist')
  add('uPlot.iife.min.js', join(uplot, 'uPlot.iife.min.js'))
  add('uPlot.min.css', join(uplot, 'uPlot.min.css'))
  return files
}

/** The web viewer at /ui: static files, public (the page logs in with POST /login, the API checks every call). */
async function viewerPlugin (fastify: FastifyInstance) {
  const files = viewerFiles()
  if (!files.has('main.js')) fastify.log.warn('the viewer is not built: run `npm run build:ui` (npm start and the tests do it)')

  function send (reply: FastifyReply, name: string) {
    const file = files.get(name)
    if (file === undefined) throw new NotFoundError('File')
    return reply
      .header('content-type', file.type)
      .header('content-security-policy', VIEWER_CSP)
      .header('cache-control', 'no-cache')
      .send(file.body)
  }

  const options = { config: { auth: 'public' as const }, schema: { hide: true } }
  fastify.get(VIEWER_PREFIX, options, async function viewerPage (_request, reply) { return await send(reply, 'index.html') })
  fastify.get(`${VIEWER_PREFIX}/`, options, async function viewerPage (_request, reply) { return await send(reply, 'index.html') })
  fastify.get<{ Params: { file: string } }>(`${VIEWER_PREFIX}/:file`, options, async function viewerFile (request, reply) {
    return await send(reply, request.params.file)
  })
}

export default fp(viewerPlugin, { fastify: '5.x', name: 'viewer' })
