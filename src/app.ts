import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { ServerOptions } from 'node:http'
import { join } from 'node:path'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { AppConfig } from './config.js'
import mongodb from './plugins/external/mongodb.js'
import jwt from './plugins/external/jwt.js'
import swagger from './plugins/external/swagger.js'
import helmet from './plugins/external/helmet.js'
import rateLimit from './plugins/external/rate-limit.js'
import compress from './plugins/external/compress.js'
import errorHandler, { answerFrameworkError } from './plugins/app/http/error-handler.js'
import methodNotAllowed from './plugins/app/http/method-not-allowed.js'
import requestId, { requestIdFor } from './plugins/app/http/request-id.js'
import databaseKind, { writesInFlight } from './plugins/app/storage/database-kind.js'
import diskFull from './plugins/app/storage/disk-full.js'
import clockSkew from './plugins/app/storage/clock-skew.js'
import metrics from './plugins/app/http/metrics.js'
import embeddedLimit from './plugins/app/storage/embedded-limit.js'
import eventStore from './plugins/app/events/event-store.js'
import sequencer from './plugins/app/events/sequencer.js'
import eventWriter from './plugins/app/events/event-writer.js'
import eventPager from './plugins/app/events/event-pager.js'
import eventHistogram from './plugins/app/events/event-histogram.js'
import eventFacets from './plugins/app/events/event-facets.js'
import linkScope from './plugins/app/events/link-scope.js'
import completeness from './plugins/app/integrity/completeness.js'
import merkleLog from './plugins/app/integrity/merkle-log.js'
import receipts from './plugins/app/integrity/receipts.js'
import witnessing from './plugins/app/integrity/witness/witness-plugin.js'
import tenantPolicies from './plugins/app/retention/policy-store.js'
import retentionSweeper from './plugins/app/retention/retention-sweeper.js'
import erasureService from './plugins/app/erasure/erasure-service.js'
import auditTrail from './plugins/app/audit/audit-trail.js'
import settledWatch from './plugins/app/streaming/settled-watch.js'
import eventStreams from './plugins/app/streaming/event-streams.js'
import webhookDispatcher from './plugins/app/webhooks/webhook-dispatcher.js'
import webhookService from './plugins/app/webhooks/webhook-service.js'
import type { Clock } from './plugins/app/webhooks/clock.js'
import scanAdmission from './plugins/app/http/scan-admission.js'
import userStore from './plugins/app/access/user-store.js'
import apiKeyStore from './plugins/app/access/api-key-store.js'
import apiKeys from './plugins/app/access/api-keys.js'
import authorization from './plugins/app/access/authorization.js'
import loginService from './plugins/app/access/login-service.js'
import bootstrapAdmin from './plugins/app/access/bootstrap-admin.js'
import noStore from './plugins/app/http/no-store.js'
import bodyBudget from './plugins/app/http/body-budget.js'
import healthRoutes from './routes/health.js'
import openapiRoute from './routes/openapi.js'
import authRoutes from './routes/auth.js'
import userRoutes from './routes/users.js'
import ingestRoutes from './routes/events/ingest.js'
import queryRoutes from './routes/events/query.js'
import histogramRoutes from './routes/events/histogram.js'
import facetRoutes from './routes/events/facets.js'
import viewer from './routes/viewer.js'
import integrityRoutes from './routes/integrity.js'
import metricsRoute from './routes/metrics.js'
import tenantRoutes from './routes/tenant.js'
import streamRoutes from './routes/events/stream.js'
import tenantWebhookRoutes from './routes/tenant-webhooks.js'
import tenantErasureRoutes from './routes/tenant-erasures.js'
import apiKeyRoutes from './routes/api-keys.js'
import eventTypeRegistry from './plugins/app/event-types/event-type-registry.js'
import tenantEventTypeRoutes from './routes/tenant-event-types.js'
import { typeExamplesFor } from './plugins/app/event-types/swagger-examples.js'
import logAccess from './plugins/app/integrity/log-access.js'
import logRoutes from './routes/logs.js'
import tenantLogAccessRoutes from './routes/tenant-log-access.js'
import { validatorCompiler } from './validation/compilers.js'
import { serializerCompiler } from './validation/serializer-compiler.js'
import { formatValidationErrors } from './validation/error-format.js'
import { parseJsonAsUtf8 } from './validation/json-body.js'
import { parseQueryString } from './validation/details-query.js'
import { SHARED_SCHEMAS } from './schemas/shared.js'
import { ShuttingDownError } from './errors.js'
import { PasswordHasher } from './plugins/app/access/passwords.js'
import { clientErrorHandler } from './http/client-errors.js'
import { OneLineRequestLog, serializeRequest } from './http/request-log.js'

export interface AppOptions {
  config: AppConfig
  /** The clock webhook retries wait on; tests pass one they advance by hand. */
  webhookClock?: Clock
}

/**
 * The application as a plugin: the server, the tests and the OpenAPI generator all build this same
 * app. Registered in three tiers: infrastructure, the app's own decorators, then routes.
 */
const app: FastifyPluginAsync<AppOptions> = async function app (fastify: FastifyInstance, { config, webhookClock }) {
  // 1. infrastructure
  fastify.setValidatorCompiler(validatorCompiler(SHARED_SCHEMAS))
  fastify.setSerializerCompiler(serializerCompiler(SHARED_SCHEMAS))
  bodyLimitCeiling(fastify, config.BODY_LIMIT)
  // a JSON API: a text/plain body is a 415, not a string that then fails validation as "must be object"
  fastify.removeContentTypeParser('text/plain')
  parseJsonAsUtf8(fastify)
  shutdownBehaviour(fastify)
  await fastify.register(errorHandler)
  await fastify.register(requestId)
  await fastify.register(helmet)
  await fastify.register(rateLimit, {
    max: config.RATE_LIMIT_MAX,
    keyMax: config.API_KEY_RATE_LIMIT_MAX,
    // asked at request time, of the authorization registered below: a key it verified is counted by its id
    keyFor: (request) => fastify.authorization.rateLimitKey(request)
  })
  await fastify.register(compress)
  await fastify.register(methodNotAllowed)
  await fastify.register(mongodb, {
    url: config.MONGODB_URL,
    database: config.MONGODB_DATABASE,
    timeoutMs: config.DB_TIMEOUT_MS,
    writeConcern: {
      w: /^\d+$/.test(config.WRITE_CONCERN_W) ? Number(config.WRITE_CONCERN_W) : 'majority',
      journal: config.WRITE_CONCERN_J
    },
    // always: the metrics time every command from these events (metrics/database-commands.ts); tests observe them too
    monitorCommands: true
  })
  await fastify.register(jwt, {
    secret: config.JWT_SECRET,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.JWT_TTL
  })
  // Swagger UI's document offers the caller's event types as examples (asked at request time, of decorators below)
  await fastify.register(swagger, { tailor: async (request) => await typeExamplesFor(fastify, request) })

  // 2. the app's own decorators
  await fastify.register(databaseKind)
  // hears every command's failure: readiness says not ready while writes are refused for lack of space
  await fastify.register(diskFull)
  // before the write path, which reports to it
  await fastify.register(metrics)
  await fastify.register(clockSkew, { maxMs: config.CLOCK_SKEW_MAX_MS })
  await fastify.register(eventStore, { maxTimeMS: config.QUERY_MAX_TIME_MS })
  await fastify.register(sequencer, { foldIntervalMs: config.SEQUENCE_FOLD_MS, staleAfterMs: config.SEQUENCE_STALE_MS })
  // reads the sequencer's counters: the size of the log without scanning it
  await fastify.register(embeddedLimit, { scanMicrosPerEvent: config.EMBEDDED_SCAN_US_PER_EVENT, maxTimeMs: config.QUERY_MAX_TIME_MS })
  await fastify.register(eventWriter, {
    maxBatch: config.GROUP_COMMIT_MAX_BATCH,
    maxWaitMs: config.GROUP_COMMIT_MAX_WAIT_MS,
    limit: config.INGEST_QUEUE_LIMIT,
    maxInFlight: writesInFlight(fastify, config),
    observer: fastify.writeObserver
  })
  await fastify.register(eventPager, { cursorSecret: config.JWT_SECRET, exportMaxTimeMS: config.QUERY_MAX_TIME_MS * 60 })
  await fastify.register(eventHistogram, { maxTimeMS: config.QUERY_MAX_TIME_MS })
  await fastify.register(eventFacets, { maxTimeMS: config.QUERY_MAX_TIME_MS })
  // before every route: a view link's scope is enforced on each (#30)
  await fastify.register(linkScope)
  await fastify.register(tenantPolicies, { defaultDays: config.RETENTION_DEFAULT_DAYS })
  await fastify.register(completeness, { maxTimeMS: config.QUERY_MAX_TIME_MS * 60 })
  await fastify.register(merkleLog, {
    checkpointIntervalMs: config.CHECKPOINT_INTERVAL_MS,
    keyFile: config.SIGNING_KEY_FILE ?? join(config.DATA_DIR, 'signing-key.pem'),
    stateDir: config.SIGNING_STATE_DIR,
    origin: config.AUDIT_LOG_ORIGIN,
    retiredFiles: config.SIGNING_RETIRED_KEYS.split(',').map((file) => file.trim()).filter((file) => file !== '')
  })
  // seals the event writer's answers: needs the key and the signer's record
  await fastify.register(receipts, { enabled: config.INGEST_RECEIPTS })
  // who may read /logs/{tenant}/ (checkpoints, hash tiles) besides the tenant's readers and monitors
  await fastify.register(logAccess)
  // sends the signed checkpoints to independent witnesses, beside the signer, never in the write path
  await fastify.register(witnessing, {
    witnesses: config.WITNESSES,
    quorum: config.WITNESS_QUORUM,
    allowHosts: config.WITNESS_ALLOW_HOSTS,
    timeoutMs: config.WITNESS_TIMEOUT_MS,
    retryBaseMs: config.WITNESS_RETRY_BASE_MS,
    retryMaxMs: config.WITNESS_RETRY_MAX_MS,
    checkpointIntervalMs: config.CHECKPOINT_INTERVAL_MS
  })
  // streaming out: one settled-mark poller per followed tenant, shared by streams and webhooks
  await fastify.register(settledWatch, {
    pollMs: config.STREAM_POLL_MS,
    tail: { maxEvents: config.STREAM_TAIL_EVENTS, maxBytes: config.STREAM_TAIL_BYTES, maxAgeMs: config.STREAM_TAIL_MAX_AGE_MS }
  })
  await fastify.register(eventStreams, {
    perTenant: config.STREAM_MAX_PER_TENANT,
    perInstance: config.STREAM_MAX_PER_INSTANCE,
    bufferBytes: config.STREAM_BUFFER_BYTES,
    heartbeatMs: config.STREAM_HEARTBEAT_MS,
    stallMs: config.STREAM_STALL_MS
  })
  await fastify.register(webhookDispatcher, {
    allowHosts: config.WEBHOOK_ALLOW_HOSTS,
    deliveriesPerTenant: config.WEBHOOK_DELIVERIES_PER_TENANT,
    batchMax: config.WEBHOOK_BATCH_MAX,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
    retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
    maxFailures: config.WEBHOOK_MAX_FAILURES,
    leaseMs: config.WEBHOOK_LEASE_MS,
    scanMs: config.WEBHOOK_SCAN_MS,
    clock: webhookClock
  })
  await fastify.register(webhookService, { maxPerTenant: config.WEBHOOK_MAX_PER_TENANT })
  const passwords = new PasswordHasher({ memoryCost: config.PASSWORD_HASH_MEMORY_KIB, timeCost: config.PASSWORD_HASH_TIME_COST })
  await fastify.register(userStore, { passwords })
  await fastify.register(apiKeyStore)
  // after the event writer: creating, revoking and expiring a key are entries in the tenant's log
  await fastify.register(apiKeys, { maxPerTenant: config.API_KEY_MAX_PER_TENANT })
  // after the event writer: every change of a tenant's event types is an entry in its log
  await fastify.register(eventTypeRegistry, { cacheMs: config.EVENT_TYPE_CACHE_MS, maxTypes: config.EVENT_TYPE_MAX_PER_TENANT })
  await fastify.register(retentionSweeper, {
    intervalMs: config.RETENTION_SWEEP_INTERVAL_MS,
    batchSize: config.RETENTION_BATCH_SIZE,
    pauseMs: config.RETENTION_BATCH_PAUSE_MS,
    leaseMs: config.RETENTION_LEASE_MS
  })
  await fastify.register(erasureService, {
    intervalMs: config.ERASURE_INTERVAL_MS,
    batchSize: config.ERASURE_BATCH_SIZE,
    pauseMs: config.ERASURE_BATCH_PAUSE_MS,
    leaseMs: config.ERASURE_LEASE_MS,
    staleReadsMs: config.STREAM_TAIL_MAX_AGE_MS
  })
  // before the routes: its onRoute hook picks up each route's config.audit
  await fastify.register(auditTrail, { enabled: config.AUDIT_ACCESS })
  await fastify.register(authorization, {
    cacheMs: config.AUTH_CACHE_MS,
    tokenTtlSeconds: config.JWT_TTL,
    metricsToken: config.METRICS_TOKEN
  })
  // after authorization: its slots are per tenant, taken once the token is checked
  await fastify.register(scanAdmission, {
    perInstance: config.QUERY_MAX_CONCURRENT,
    perTenant: config.QUERY_MAX_CONCURRENT_PER_TENANT,
    queueMs: config.QUERY_QUEUE_MS
  })
  // after authorization: its onRoute hook appends the reservation after authenticating
  await fastify.register(bodyBudget, { bytesInFlight: config.BATCH_BYTES_IN_FLIGHT })
  await fastify.register(loginService, {
    ttlSeconds: config.JWT_TTL,
    maxFailures: config.LOGIN_MAX_FAILURES,
    windowSeconds: config.LOGIN_WINDOW_S,
    userMaxFailures: config.LOGIN_USER_MAX_FAILURES,
    userWindowSeconds: config.LOGIN_USER_WINDOW_S,
    knownAddressSeconds: config.LOGIN_KNOWN_ADDRESS_S,
    concurrency: config.LOGIN_CONCURRENCY,
    defaultTenant: config.ADMIN_TENANT,
    passwords
  })
  await fastify.register(bootstrapAdmin, { config })
  await fastify.register(noStore)

  // 3. routes
  await fastify.register(healthRoutes)
  await fastify.register(openapiRoute)
  await fastify.register(authRoutes, {
    maxPerIp: config.LOGIN_MAX_PER_IP,
    windowSeconds: config.LOGIN_WINDOW_S,
    defaultTenant: config.ADMIN_TENANT
  })
  await fastify.register(userRoutes)
  await fastify.register(ingestRoutes)
  await fastify.register(queryRoutes)
  await fastify.register(histogramRoutes)
  await fastify.register(facetRoutes)
  await fastify.register(integrityRoutes)
  await fastify.register(metricsRoute)
  await fastify.register(viewer)
  await fastify.register(tenantRoutes, {
    minDays: config.RETENTION_MIN_DAYS,
    maxDays: config.RETENTION_MAX_DAYS,
    liftMode: config.LEGAL_HOLD_LIFT_MODE,
    liftDelayMs: config.LEGAL_HOLD_LIFT_DELAY_MS
  })
  await fastify.register(streamRoutes)
  await fastify.register(tenantWebhookRoutes)
  await fastify.register(tenantErasureRoutes)
  await fastify.register(apiKeyRoutes)
  await fastify.register(tenantEventTypeRoutes)
  await fastify.register(logRoutes)
  await fastify.register(tenantLogAccessRoutes)
}

export default fp(app, { fastify: '5.x', name: 'audit-log-app' })

/**
 * Shutdown, as clients see it. Requests already in flight are answered; a request that arrives once
 * closing has begun gets our 503 (Error body, Retry-After) rather than Fastify's bare one. Every answer
 * sent while closing says `Connection: close`: server.close() reaps only connections idle when it starts,
 * so a kept-alive connection would otherwise outlive the grace period.
 */
function shutdownBehaviour (fastify: FastifyInstance): void {
  let closing = false
  fastify.addHook('preClose', function markClosing (done) {
    closing = true
    done()
  })
  fastify.addHook('onRequest', function refuseWhileClosing (_request, _reply, done) {
    done(closing ? new ShuttingDownError() : undefined)
  })
  fastify.addHook('onSend', function closeConnectionWhenClosing (_request, reply, payload, done) {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
}

/**
 * Routes declare their own body limit (http/body-limits.ts); BODY_LIMIT stays a ceiling over all of them,
 * so an operator can lower every limit at once.
 */
function bodyLimitCeiling (fastify: FastifyInstance, ceiling: number): void {
  fastify.addHook('onRoute', function capBodyLimit (route) {
    // routes without a limit of their own have the server's, which is BODY_LIMIT already
    if (route.bodyLimit !== undefined) route.bodyLimit = Math.min(route.bodyLimit, ceiling)
  })
}

/** Options that must be given when the Fastify instance is created; shared by the server and the tests. */
export function serverOptions (
  config: Pick<
    AppConfig,
    'LOG_LEVEL' | 'BODY_LIMIT' | 'TRUST_PROXY' | 'REQUEST_TIMEOUT_MS' | 'HEADERS_TIMEOUT_MS' | 'CONNECTION_TIMEOUT_MS'
  >
): FastifyServerOptions & { http: ServerOptions } {
  return {
    logger: {
      level: config.LOG_LEVEL,
      // tokens and passwords never reach the log
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'body.password'], censor: '[redacted]' },
      // nor does a credential put in a URL (a query parameter such as access_token, or userinfo): see http/request-log.ts
      serializers: { req: serializeRequest }
    },
    // one line per request, not two (http/request-log.ts)
    logController: new OneLineRequestLog(),
    bodyLimit: config.BODY_LIMIT,
    // slow clients (slow-loris headers, a body that trickles in) are cut off, unauthenticated /login included;
    // Node checks incomplete requests every connectionsCheckingInterval (30 s by default: too coarse here)
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    connectionTimeout: config.CONNECTION_TIMEOUT_MS,
    clientErrorHandler,
    http: {
      headersTimeout: config.HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(5000, Math.floor(config.HEADERS_TIMEOUT_MS / 4))
    },
    // the router's own cap (100) answered an over-long path parameter with an undocumented 414; each route's
    // schema bounds its parameters and names the field in a 400. Node's 16 KiB header limit bounds the URL.
    // `details[card][brand]=visa` (OpenAPI deepObject) arrives as `details.card.brand`, the one spelling validated
    routerOptions: { maxParamLength: 16 * 1024, querystringParser: parseQueryString },
    schemaErrorFormatter: formatValidationErrors,
    frameworkErrors: answerFrameworkError,
    trustProxy: config.TRUST_PROXY,
    // the client's X-Request-Id only when short and safe (see plugins/app/request-id.ts)
    requestIdHeader: false,
    genReqId: requestIdFor,
    // while closing, in-flight requests finish and new ones get the service's own 503 (see shutdownBehaviour)
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // a plugin that waits on the database at startup (indexes, migrations) fails by DB_TIMEOUT_MS, with the database's
    // error; Fastify's own 10 s timer failed it first on a loaded machine, as a confusing "did not start in time"
    pluginTimeout: 60_000
  }
}

/** A ready-to-listen instance of the app: what the server, tests and scripts use. */
export async function buildApp (options: AppOptions, overrides: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const fastify = Fastify({ ...serverOptions(options.config), ...overrides }).withTypeProvider<TypeBoxTypeProvider>()
  await fastify.register(app, options)
  return fastify
}
