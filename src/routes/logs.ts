import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { NotFoundError } from '../errors.js'
import { hashTilePath, publishedTile } from '../plugins/app/integrity/published-tile.js'

/** One year: the longest max-age caches honour, for tiles that never change. */
const IMMUTABLE = 'max-age=31536000, immutable'
/** The checkpoint changes with the log: C2SP tlog-tiles asks that it not be cached beyond a few seconds. */
const CHECKPOINT_MAX_AGE = 'max-age=2'
/**
 * A partial tile never changes either (it is a prefix of what the tile becomes), but a log may stop serving
 * it once the tile is full (tlog-tiles): kept briefly, so that clients move on to the full tile.
 */
const PARTIAL_MAX_AGE = 'max-age=60'
const TILE_BYTES = 256 * 32

const LogParams = Type.Object({
  tenant: Type.String({ minLength: 1, maxLength: 64, description: "The tenant whose log it is (percent-encoded in the path, as in the log's origin)" })
}, { additionalProperties: false })

const TileWildcardParams = Type.Object({
  tenant: LogParams.properties.tenant,
  '*': Type.String({
    minLength: 5,
    maxLength: 64,
    description: '`<L>/<N>[.p/<W>]` of C2SP tlog-tiles: level, index in 3-digit path elements (x001/x234/067), partial width'
  })
}, { additionalProperties: false })

const notFound = "No such tile in the tenant's tree yet, or entries (never published: they are events with personal data)"

/**
 * Each tenant's log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles) under `/logs/{tenant}/`: the checkpoint
 * (a signed note, with the witnesses' cosignatures that verify) and the binary hash tiles, which any tlog client
 * (Go's sumdb/tlog, witnesses, monitors) reads. Never entry bundles.
 *
 * Who may read: the tenant's readers and monitors, or anyone once an admin made the log public
 * (PUT /tenant/log-access). Reads add no event to the log; they are counted in auditlog_monitor_reads_total.
 * Tiles are read from the stored tree by key (integrity/tree.ts), never from the event log.
 */
const logRoutes: FastifyPluginAsyncTypebox = async function logRoutes (fastify) {
  const auth = {
    roles: ['reader' as const, 'monitor' as const],
    tenantParam: 'tenant',
    publicWhen: async (request: FastifyRequest) => await fastify.logAccess.isPublic((request.params as { tenant: string }).tenant)
  }

  /** public when anyone may read, private (a browser's cache only) when a credential was needed */
  function cacheControl (request: FastifyRequest, maxAge: string): string {
    return `${request.principal === null ? 'public' : 'private'}, ${maxAge}`
  }

  fastify.get('/logs/:tenant/checkpoint', {
    config: { auth, ownCacheControl: true },
    schema: {
      tags: ['integrity'],
      operationId: 'getLogCheckpoint',
      summary: "The tenant's newest checkpoint as a C2SP signed note",
      description:
        'C2SP tlog-checkpoint: the origin (AUDIT_LOG_ORIGIN/tenant), the tree size, the root hash in base64, a blank line, the signature ' +
        'of the key named by the origin (GET /integrity/keys?tenant= gives its verifier key), then the cosignatures of the witnesses. ' +
        'Readable by the tenant\'s readers and monitors, or by anyone once the tenant made its log public; not recorded in the log.',
      params: LogParams,
      response: {
        200: {
          description: 'The signed note',
          content: { 'text/plain': { schema: Type.String({ maxLength: 16384, description: 'A C2SP signed note' }) } }
        },
        ...errorResponses({ 400: 'Malformed tenant', 404: 'No checkpoint in the C2SP format yet: one is signed within CHECKPOINT_INTERVAL_MS of the next event' })
      }
    }
  }, async function logCheckpoint (request, reply) {
    fastify.logAccess.count('/logs/:tenant/checkpoint')
    const checkpoint = await fastify.proofs.checkpoint(request.params.tenant)
    if (checkpoint.note === undefined) throw new NotFoundError('A checkpoint in the C2SP format (the next one signed will be)')
    const { note } = await fastify.witnessing.serve({ ...checkpoint, note: checkpoint.note })
    return await reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', cacheControl(request, CHECKPOINT_MAX_AGE)).send(note)
  })

  fastify.get('/logs/:tenant/tile/*', {
    config: { auth, ownCacheControl: true },
    schema: {
      tags: ['integrity'],
      operationId: 'getLogTile',
      summary: "A hash tile of the tenant's tree (C2SP tlog-tiles)",
      description:
        '`tile/<L>/<N>` is a full tile: 256 hashes of 32 bytes, immutable, cached for a year; `tile/<L>/<N>.p/<W>` its first W hashes ' +
        "(a partial tile at the tree's right edge). Level 0 holds leaf hashes; each hash of level L+1 is the root of a full tile of level L. " +
        '`tile/entries/...` (entry bundles) is never published: 404. Same readers as the checkpoint; not recorded in the log.',
      params: TileWildcardParams,
      response: {
        200: {
          description: 'The hashes, concatenated',
          content: { 'application/octet-stream': { schema: Type.String({ format: 'binary', maxLength: TILE_BYTES, description: '32 bytes per hash' }) } }
        },
        ...errorResponses({ 400: 'Not a tile path of C2SP tlog-tiles', 404: notFound })
      }
    }
  }, async function logTile (request, reply) {
    fastify.logAccess.count('/logs/:tenant/tile/*')
    const path = hashTilePath(request.params['*'])
    const bytes = await publishedTile(await fastify.merkleTrees.view(request.params.tenant), path)
    return await reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', cacheControl(request, path.width === undefined ? IMMUTABLE : PARTIAL_MAX_AGE))
      // the schema's binary string is what the document says; the answer is the bytes themselves
      .send(bytes as unknown as string)
  })
}

export default logRoutes
