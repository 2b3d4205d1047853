import createError from '@fastify/error'

/**
 * The service's coded errors. Each code is stable and documented (it is the `code` of the error body);
 * messages never carry database or stack details.
 */
export const UnauthorizedError = createError('AUTH_UNAUTHORIZED', 'Missing, invalid or expired access token', 401)
export const ForbiddenError = createError('AUTH_FORBIDDEN', 'This route needs the %s role', 403)
/** A credential of one tenant on a route of another's (`/logs/{tenant}/...`): the roles are right, the tenant is not. */
export const OtherTenantError = createError('AUTH_FORBIDDEN', 'This credential is of another tenant than %s, the one in the path', 403)
export const LoginFailedError = createError('AUTH_LOGIN_FAILED', 'Invalid username or password', 401)
export const TooManyLoginsError = createError('AUTH_TOO_MANY_ATTEMPTS', 'Too many login attempts; retry later', 429)
export const RateLimitedError = createError('RATE_LIMITED', 'Too many requests from this address; retry later', 429)
export const ApiKeyRateLimitedError = createError('RATE_LIMITED', 'Too many requests with this API key; retry later', 429)
export const NotFoundError = createError('NOT_FOUND', '%s not found', 404)
export const NotInTreeError = createError('NOT_IN_TREE', '%s', 404)
export const ConflictError = createError('CONFLICT', '%s', 409)
export const BadRequestError = createError('BAD_REQUEST', '%s', 400)
export const OverloadedError = createError('SERVICE_OVERLOADED', 'The service is at capacity; retry shortly', 503)
export const DatabaseUnavailableError = createError('DATABASE_UNAVAILABLE', 'The database is unreachable; retry shortly', 503)
/** The same code as DatabaseUnavailableError: the client's answer is the same (retry later), the operator's cause is not. */
export const DatabaseFullError = createError('DATABASE_UNAVAILABLE', 'The database has no space left for writes; retry later', 503)
export const ShuttingDownError = createError('SERVICE_SHUTTING_DOWN', 'The service is shutting down; retry shortly', 503)
export const QueryTimeoutError = createError(
  'QUERY_TIMEOUT',
  'The query exceeded its time limit; narrow the filters or the time range',
  503
)
/** The same timeout on FerretDB, where its cause is the size of the log, not the query: say so, and where to go. */
export const EmbeddedQueryTimeoutError = createError(
  'QUERY_TIMEOUT',
  'The query exceeded its time limit (QUERY_MAX_TIME_MS). This database is FerretDB (the embedded default), which uses no index and reads every stored event ' +
    'for each query, so every read slows as the log grows. Narrow the time range for now; for a log of this size, run the service on MongoDB: ' +
    'see the README, "Running with MongoDB (Docker)"',
  503
)
export const QueryCapacityError = createError(
  'QUERY_CAPACITY',
  'Too many reads are running for your tenant or on this instance; retry shortly',
  503
)
export const StreamCapacityError = createError(
  'STREAM_CAPACITY',
  'Too many event streams are open for your tenant or on this instance; retry shortly',
  503
)
export const ApiKeyLimitError = createError(
  'API_KEY_LIMIT',
  'Your tenant has %s API keys, the most allowed (API_KEY_MAX_PER_TENANT); revoke one first',
  409
)
export const EventTypeLimitError = createError(
  'EVENT_TYPE_LIMIT',
  'Your tenant has %s event types, the most allowed (EVENT_TYPE_MAX_PER_TENANT)',
  409
)
export const WebhookUrlRefusedError = createError('WEBHOOK_URL_REFUSED', '%s', 400)
export const WebhookLimitError = createError(
  'WEBHOOK_LIMIT',
  'Your tenant has %s webhook subscriptions, the most allowed (WEBHOOK_MAX_PER_TENANT); delete one first',
  409
)
export const RetentionLockedError = createError('RETENTION_LOCKED', '%s', 409)
export const LegalHoldApprovalError = createError('LEGAL_HOLD_APPROVAL', '%s', 409)
export const EventNotWrittenError = createError(
  'EVENT_NOT_WRITTEN',
  'The event could not be written this time; nothing was stored, retry shortly',
  503
)

/**
 * Every `code` a client can receive, and when: the `Error` schema's enum and its description are made
 * from this (schemas/common.ts). Fastify's own errors (FST_ERR_*) and those of its plugins are answered
 * with one of these (plugins/app/error-handler.ts), never with theirs.
 */
export const ERROR_CODE_MEANINGS = {
  VALIDATION_FAILED: 'a field or parameter is invalid, missing or unknown; the message names it',
  INVALID_JSON: 'the body is not JSON (or empty, or has __proto__)',
  BAD_REQUEST:
    'other malformed requests: invalid UTF-8 in the body, an undecodable URL, a forged or foreign cursor, timeStart after timeEnd',
  BODY_TOO_LARGE: 'the body is over BODY_LIMIT',
  UNSUPPORTED_MEDIA_TYPE: 'a body that is not application/json',
  AUTH_UNAUTHORIZED: 'missing, invalid, expired or revoked token',
  AUTH_FORBIDDEN: "the token lacks the route's role",
  AUTH_LOGIN_FAILED: 'unknown user, wrong password or disabled user',
  AUTH_TOO_MANY_ATTEMPTS:
    'too many failed logins for this username from this address, for this username overall, or login attempts from this address',
  RATE_LIMITED: 'too many requests from this address (RATE_LIMIT_MAX), or with this API key (API_KEY_RATE_LIMIT_MAX)',
  NOT_FOUND: 'no such event or user in your tenant, or no checkpoint yet',
  NOT_IN_TREE:
    "the seq or tree size asked for is beyond your tenant's tree: an event enters it within seconds of being stored, so retry shortly",
  ROUTE_NOT_FOUND: 'no such path',
  METHOD_NOT_ALLOWED: 'the path exists under other methods (see Allow)',
  CONFLICT: 'the username is taken, or an event type was changed by another request at the same time (read it and retry)',
  REQUEST_TIMEOUT: 'headers or body arrived slower than HEADERS_TIMEOUT_MS/REQUEST_TIMEOUT_MS; the connection is closed',
  HEADERS_TOO_LARGE: "headers over Node's size limit",
  SERVICE_OVERLOADED: 'too many events waiting for the database, or logins being checked',
  DATABASE_UNAVAILABLE: 'the database is unreachable, or its disk is full (the message says which)',
  SERVICE_SHUTTING_DOWN: 'the service is stopping',
  QUERY_TIMEOUT: 'a query ran over QUERY_MAX_TIME_MS',
  QUERY_CAPACITY:
    "your tenant's requests already hold or wait for QUERY_MAX_CONCURRENT_PER_TENANT units of reads, or the instance stayed full (QUERY_MAX_CONCURRENT) for QUERY_QUEUE_MS",
  EVENT_NOT_WRITTEN:
    'the event could not be written this time (its seq was contended, or whether its event_id is stored could not be confirmed); nothing was stored, retry',
  STREAM_CAPACITY: 'STREAM_MAX_PER_TENANT streams are open for your tenant, or STREAM_MAX_PER_INSTANCE on this instance',
  WEBHOOK_URL_REFUSED:
    'a webhook URL that is not https, or whose host resolves to a private, loopback or link-local address, and is not in WEBHOOK_ALLOW_HOSTS',
  WEBHOOK_LIMIT: 'your tenant already has WEBHOOK_MAX_PER_TENANT webhook subscriptions; delete one before creating another',
  EVENT_TYPE_LIMIT: 'your tenant already has EVENT_TYPE_MAX_PER_TENANT event types; a new type is refused (changing a registered one is not)',
  API_KEY_LIMIT: 'your tenant already has API_KEY_MAX_PER_TENANT API keys (expired ones included); revoke one before creating another',
  RETENTION_LOCKED: "your tenant's retention is locked: its days can only grow (0, forever, is the most) and it cannot be unlocked",
  LEGAL_HOLD_APPROVAL:
    'a legal hold lift needs another admin: you asked for it and cannot approve it, or no lift is pending, or its delay has not passed',
  INTERNAL_ERROR: 'a fault of the service; quote requestId'
} as const
export const ERROR_CODES = Object.keys(ERROR_CODE_MEANINGS) as Array<keyof typeof ERROR_CODE_MEANINGS>
export type ErrorCode = typeof ERROR_CODES[number]

/** A 400 found by the service's own checks rather than by the schema (same code, same body). */
export const ValidationFailedError = createError('VALIDATION_FAILED', '%s', 400)
