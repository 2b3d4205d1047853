import createError from '@fastify/error'

/**
 * The service's coded errors. Each code is stable and documented (it is the `code` of the error body);
 * messages never carry database or stack details.
 */
export const UnauthorizedError = createError('AUTH_UNAUTHORIZED', 'Missing, invalid or expired access token', 401)
export const ForbiddenError = createError('AUTH_FORBIDDEN', 'This route needs the %s role', 403)
export const LoginFailedError = createError('AUTH_LOGIN_FAILED', 'Invalid username or password', 401)
export const TooManyLoginsError = createError('AUTH_TOO_MANY_ATTEMPTS', 'Too many login attempts; retry later', 429)
export const RateLimitedError = createError('RATE_LIMITED', 'Too many requests from this address; retry later', 429)
export const NotFoundError = createError('NOT_FOUND', '%s not found', 404)
export const ConflictError = createError('CONFLICT', '%s', 409)
export const BadRequestError = createError('BAD_REQUEST', '%s', 400)
export const OverloadedError = createError('SERVICE_OVERLOADED', 'The service is at capacity; retry shortly', 503)
export const DatabaseUnavailableError = createError('DATABASE_UNAVAILABLE', 'The database is unreachable; retry shortly', 503)
export const ShuttingDownError = createError('SERVICE_SHUTTING_DOWN', 'The service is shutting down; retry shortly', 503)
export const QueryTimeoutError = createError('QUERY_TIMEOUT', 'The query exceeded its time limit; narrow the filters or the time range', 503)
export const QueryCapacityError = createError('QUERY_CAPACITY', 'Too many reads are running for your tenant or on this instance; retry shortly', 503)
export const EventNotWrittenError = createError('EVENT_NOT_WRITTEN', 'The event could not be written this time; nothing was stored, retry shortly', 503)

/**
 * Every `code` a client can receive, the `Error` schema's enum. Fastify's own errors (FST_ERR_*) and
 * those of its plugins are answered with one of these (plugins/app/error-handler.ts), never with theirs.
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED', 'INVALID_JSON', 'BAD_REQUEST', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE',
  'AUTH_UNAUTHORIZED', 'AUTH_FORBIDDEN', 'AUTH_LOGIN_FAILED', 'AUTH_TOO_MANY_ATTEMPTS', 'RATE_LIMITED',
  'NOT_FOUND', 'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'CONFLICT',
  'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE',
  'SERVICE_OVERLOADED', 'DATABASE_UNAVAILABLE', 'SERVICE_SHUTTING_DOWN', 'QUERY_TIMEOUT', 'QUERY_CAPACITY', 'EVENT_NOT_WRITTEN', 'INTERNAL_ERROR'
] as const
export type ErrorCode = typeof ERROR_CODES[number]
