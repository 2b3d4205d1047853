import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { EventIdParams } from '../schemas/event-query.js'
import {
  CheckpointQuerySchema, CheckpointSchema, CompletenessQuerySchema, CompletenessSchema, ConsistencyProofSchema, ConsistencyQuerySchema,
  EventProofQuerySchema, EventProofSchema, InclusionProofSchema, InclusionQuerySchema, KeyListSchema, KeysQuerySchema,
  RetentionHorizonSchema, TileParams, TileSchema
} from '../schemas/integrity.js'
import { auditCompleteness, auditIntegrityRead } from '../plugins/app/audit/entries.js'
import { NotFoundError } from '../errors.js'
import { SCAN_COSTS } from '../plugins/app/http/scan-admission.js'
import { formatVerifierKey } from '../verifier/signed-note.js'

const reader = { auth: { roles: ['reader' as const] } }
/**
 * What a monitor may read too: checkpoints, tiles and consistency proofs, which reveal no event. Not recorded in
 * the log (a poller would make it grow forever), counted in auditlog_monitor_reads_total instead (#27).
 */
const monitorRead = { auth: { roles: ['reader' as const, 'monitor' as const] } }
/** Reads of the event log itself: a slot of the scan admission control too. */
const scanningReader = { ...reader, scan: true }
const notInTree =
  "The seq or tree size is beyond your tenant's tree (NOT_IN_TREE: retry shortly), or no checkpoint is signed yet (NOT_FOUND)"

/** What the caller's tenant log can prove about itself, and the keys to check it with. */
const integrityRoutes: FastifyPluginAsyncTypebox = async function integrityRoutes (fastify) {
  fastify.get(
    '/integrity/completeness',
    {
      // reads every seq of the tenant, under a time limit 60 times a query's: it counts as more than one read
      config: { ...scanningReader, scan: SCAN_COSTS.completeness, audit: auditCompleteness },
      schema: {
        tags: ['integrity'],
        operationId: 'getCompleteness',
        summary: "Is anything missing from your tenant's log?",
        description:
          'Checks every seq from 1 to the settled mark against the stored events: each is an event or a hole the service ' +
          'recorded with its reason. A missing seq with no recorded reason is reported as `unexplained` and makes `complete` false: ' +
          'an event was removed outside the service. With timeStart/timeEnd, also says which seqs that receipt-time range covers. ' +
          'Reads every seq of the tenant: on the embedded FerretDB a scan of the events.',
        querystring: CompletenessQuerySchema,
        response: {
          200: Type.Ref(CompletenessSchema, { description: 'The completeness report' }),
          ...errorResponses({
            400: 'Unknown parameter or malformed value',
            503: 'The check exceeded its time limit, or the database is unreachable'
          })
        }
      }
    },
    async function completeness (request) {
      return await fastify.completeness.report(request.principal.tenant, request.query, request.disconnected)
    }
  )

  fastify.get(
    '/integrity/keys',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['integrity'],
        operationId: 'listSigningKeys',
        summary: 'The public keys checkpoints are signed with',
        description:
          'Public: an auditor needs no account to check a checkpoint. Every key ever used is listed, so a rotation keeps older checkpoints verifiable. ' +
          'Keep a copy outside the service and verify against it (`npm run verify -- --keys`): the service could list another key later. ' +
          "With ?tenant=, each key is also given as the C2SP verifier key of that tenant's log, for Go's sumdb/note, witnesses and monitors.",
        security: [],
        querystring: KeysQuerySchema,
        response: {
          200: Type.Ref(KeyListSchema, { description: 'The keys' }),
          ...errorResponses({ 429: 'Too many requests from this address (RATE_LIMIT_MAX)' })
        }
      }
    },
    async function keys (request) {
      const { signingKeys } = fastify
      const origin = request.query.tenant === undefined ? undefined : fastify.checkpoints.originOf(request.query.tenant)
      return {
        keys: signingKeys.published.map((key) => ({
          ...key,
          current: key.key_id === signingKeys.current.key_id,
          ...(origin === undefined ? {} : { verifier_key: formatVerifierKey(signingKeys.verifierKey(key, origin)) })
        })),
        ...(origin === undefined ? {} : { origin })
      }
    }
  )

  fastify.get(
    '/integrity/checkpoint',
    {
      config: monitorRead,
      schema: {
        tags: ['integrity'],
        operationId: 'getCheckpoint',
        summary: "The newest signed checkpoint of your tenant's tree, or the one of a tree size",
        description:
          'Signed within about CHECKPOINT_INTERVAL_MS of new events. Each one is consistent with every earlier one (GET /integrity/consistency proves it).',
        querystring: CheckpointQuerySchema,
        response: {
          200: Type.Ref(CheckpointSchema, { description: 'The checkpoint' }),
          ...errorResponses({
            400: 'Malformed tree_size or min_tree_size',
            404: 'No checkpoint of that size, none yet, or none covering min_tree_size within the wait'
          })
        }
      }
    },
    async function checkpoint (request) {
      const { tree_size: size, min_tree_size: minSize } = request.query
      fastify.logAccess.count('/integrity/checkpoint')
      const found = minSize !== undefined && size === undefined
        ? await fastify.proofs.checkpointCovering(request.principal.tenant, minSize, request.disconnected)
        : await fastify.proofs.checkpoint(request.principal.tenant, size)
      return await fastify.witnessing.withCosignatures(found)
    }
  )

  fastify.get(
    '/integrity/inclusion',
    {
      config: { ...reader, audit: auditIntegrityRead('inclusion') },
      schema: {
        tags: ['integrity'],
        operationId: 'getInclusionProof',
        summary: "Prove that the event at a seq is in your tenant's tree",
        description:
          "By seq, as your ingest receipt gave it: read from the tree alone, never from the event log. Check that leaf_hash is your receipt's hash and that the audit path leads to a checkpoint's root_hash.",
        querystring: InclusionQuerySchema,
        response: {
          200: Type.Ref(InclusionProofSchema, { description: 'The inclusion proof' }),
          ...errorResponses({ 400: 'Malformed seq or tree_size', 404: notInTree })
        }
      }
    },
    async function inclusion (request) {
      return await fastify.proofs.inclusion(request.principal.tenant, request.query.seq, request.query.tree_size)
    }
  )

  fastify.get(
    '/events/:id/proof',
    {
      config: { ...scanningReader, audit: auditIntegrityRead('event_proof') },
      schema: {
        tags: ['integrity'],
        operationId: 'getEventProof',
        summary: "Prove that an event is in your tenant's tree",
        description:
          "The inclusion proof of the event's seq against the tree of tree_size (default: the newest checkpoint's). " +
          'Looks the event up by id first: on the embedded FerretDB a scan of the events; GET /integrity/inclusion?seq= needs no such lookup.',
        params: EventIdParams,
        querystring: EventProofQuerySchema,
        response: {
          200: Type.Ref(EventProofSchema, { description: "The inclusion proof, and the event's leaf" }),
          ...errorResponses({ 400: 'Malformed id or tree_size', 404: 'No such event in your tenant, ' + notInTree })
        }
      }
    },
    async function eventProof (request) {
      return await fastify.proofs.inclusionOfEvent(
        request.principal.tenant,
        request.params.id,
        request.query.tree_size,
        request.disconnected
      )
    }
  )

  fastify.get('/integrity/consistency', {
    config: monitorRead,
    schema: {
      tags: ['integrity'],
      operationId: 'getConsistencyProof',
      summary: 'Prove that an earlier tree is a prefix of a later one',
      description: 'Check a checkpoint you kept against the newest: nothing it covered was changed, removed or reordered since.',
      querystring: ConsistencyQuerySchema,
      response: {
        200: Type.Ref(ConsistencyProofSchema, { description: 'The consistency proof' }),
        ...errorResponses({ 400: 'Malformed from or to', 404: notInTree })
      }
    }
  }, async function consistency (request) {
    fastify.logAccess.count('/integrity/consistency')
    return await fastify.proofs.consistency(request.principal.tenant, request.query.from, request.query.to)
  })

  fastify.get(
    '/integrity/tiles/:level/:index',
    {
      config: monitorRead,
      schema: {
        tags: ['integrity'],
        operationId: 'getTile',
        summary: "Hashes of your tenant's tree, 256 at a time",
        description:
          'What a verifier reads to check every leaf against a checkpoint without trusting the event log: tile 0/i holds the leaf hashes of seqs 256·i+1..256·i+256.',
        params: TileParams,
        response: {
          200: Type.Ref(TileSchema, { description: 'The tile' }),
          ...errorResponses({ 400: 'Malformed level or index', 404: 'The tree has no such tile yet (NOT_IN_TREE)' })
        }
      }
    },
    async function tile (request) {
      fastify.logAccess.count('/integrity/tiles/:level/:index')
      return await fastify.proofs.tile(request.principal.tenant, request.params.level, request.params.index)
    }
  )

  fastify.get(
    '/integrity/retention-horizon',
    {
      config: { ...reader, audit: auditIntegrityRead('retention_horizon') },
      schema: {
        tags: ['integrity'],
        operationId: 'getRetentionHorizon',
        summary: "Where your tenant's log starts since retention deleted its oldest events, signed",
        description:
          'Retention deletes only whole leading seq ranges and signs, with the checkpoint key, where the log now starts. ' +
          '`npm run verify` accepts the seqs below the horizon being absent only under this statement, and refuses a horizon shorter than the ' +
          'retention policy the log recorded (`audit.admin.retention_changed`). A small read by key: it never scans the event log.',
        response: {
          200: Type.Ref(RetentionHorizonSchema, { description: 'The newest signed horizon' }),
          ...errorResponses({ 404: 'Nothing of your tenant has expired yet (NOT_FOUND)' })
        }
      }
    },
    async function retentionHorizon (request) {
      const horizon = await fastify.tenantPolicies.signedHorizon(request.principal.tenant)
      if (horizon === undefined) throw new NotFoundError('retention horizon')
      return horizon
    }
  )
}

export default integrityRoutes
