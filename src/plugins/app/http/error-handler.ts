import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { MongoServerError } from 'mongodb'
import {
  DatabaseFullError,
  DatabaseUnavailableError,
  EmbeddedQueryTimeoutError,
  ERROR_CODES,
  QueryTimeoutError,
  type ErrorCode
} from '../../../errors.js'
import { isDatabaseUnreachable, isDiskFull } from '../storage/database-errors.js'

const MAX_TIME_EXPIRED = 50
const RETRY_AFTER_SECONDS = '1'
/** A full disk frees up in minutes, not in a second: clients wait longer between retries. */
const DISK_FULL_RETRY_AFTER_SECONDS = 10
/** The service's own codes: a 4xx or 5xx with one of them is answered as it is (INTERNAL_ERROR aside). */
const OWN_CODES = new Set<string>(ERROR_CODES)
/** Fastify's and its plugins' codes that reach clients, as the service's own (the `Error` schema's enum). */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_RATE_LIMITED: 'RATE_LIMITED'
}
/**
 * What describes an answer's body rather than the exchange: set by a route or by the compressor (onSend) before
 * an error replaced the answer, they would go out over the error's body. The error body sets its own type, and
 * is compressed (and labelled) afresh when it is large enough.
 */
const REPRESENTATION_HEADERS = ['content-encoding', 'content-type', 'content-length', 'content-disposition', 'content-range', 'etag', 'last-modified']
/**
 * 503s the service answers on purpose when it is at a bound it was given (reads, streams, queued writes): a
 * client retries after Retry-After, nothing failed, and a stack trace would only hide the real faults.
 */
const EXPECTED_REFUSALS = new Set<string>(['QUERY_CAPACITY', 'STREAM_CAPACITY', 'SERVICE_OVERLOADED'])
/** Any other 4xx without a code of ours (e.g. a JSON body with `__proto__`), by status. */
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  401: 'AUTH_UNAUTHORIZED',
  403: 'AUTH_FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED'
}

/**
 * The one error handler. 4xx pass through with their code and message (they tell the client what to
 * fix); database outages become 503 with Retry-After; anything else is a 500 whose details stay in the
 * log, answered with the request id only. Every body has the shape of the `Error` schema.
 */
async function errorHandlerPlugin (fastify: FastifyInstance) {
  fastify.setErrorHandler(function handleError (rawError: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const translated = translateDatabaseError(rawError)
    // on FerretDB a timeout is the log's size, not the query's fault: the answer says why and where to go (database-kind.ts)
    const err = translated.code === 'QUERY_TIMEOUT' && fastify.databaseKind === 'ferretdb' ? new EmbeddedQueryTimeoutError() : translated
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500

    const outcome = logOutcome(err.code, statusCode, request.disconnected?.aborted === true)
    if (outcome === 'abandoned') {
      // the client went away and its read was stopped on purpose: nothing failed, nobody is listening
      request.log.info({ code: err.code }, 'read abandoned by its client')
    } else if (outcome === 'failed') {
      request.log.error({ err: rawError, statusCode }, 'request failed')
    } else {
      request.log.info({ code: err.code, statusCode, message: err.message }, 'request refused')
    }
    const retryAfter = (err as { retryAfter?: number }).retryAfter
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    else if (statusCode === 503) reply.header('retry-after', RETRY_AFTER_SECONDS)
    if (statusCode === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer')

    // the error replaces the answer that was being prepared: headers that describe that answer's body would
    // describe this one wrongly (a failed export's plain JSON error went out labelled gzip, as its file)
    for (const name of REPRESENTATION_HEADERS) reply.removeHeader(name)

    // a 5xx of the service's own (503 with Retry-After) is a retryable answer whose message helps; any other is masked
    const exposed = statusCode < 500 || (OWN_CODES.has(err.code) && err.code !== 'INTERNAL_ERROR')
    return reply.code(statusCode).send({
      statusCode,
      code: exposed ? publicCode(err.code, statusCode) : 'INTERNAL_ERROR',
      error: STATUS_CODES[statusCode] ?? 'Error',
      message: exposed ? err.message : 'Internal Server Error',
      ...(statusCode >= 500 ? { requestId: String(request.id) } : {})
    })
  })
  // requests no route matched (404, or 405 with Allow) are answered in method-not-allowed.ts
}

/**
 * How an error answer is logged: `failed` (error level, with the stack) only for a 5xx that is a fault; a 4xx, or a
 * 503 the service gives at one of its bounds (EXPECTED_REFUSALS), is `refused` (info, no stack).
 */
export function logOutcome (code: string | undefined, statusCode: number, abandoned: boolean): 'abandoned' | 'failed' | 'refused' {
  if (abandoned) return 'abandoned'
  if (statusCode >= 500 && !(statusCode === 503 && code !== undefined && EXPECTED_REFUSALS.has(code))) return 'failed'
  return 'refused'
}

/**
 * Errors Fastify raises before any route or hook runs (a URL the router cannot decode, such as
 * `/events/%FF`), which it would otherwise answer itself with its own FST_ code. Server option
 * `frameworkErrors` (app.ts#serverOptions).
 */
export function answerFrameworkError (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const statusCode = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400
  reply
    .code(statusCode)
    .send({ statusCode, code: publicCode(error.code, statusCode), error: STATUS_CODES[statusCode] ?? 'Error', message: error.message })
}

/** The code a client sees: ours as is, Fastify's translated, anything else by its status. */
export function publicCode (code: string | undefined, statusCode: number): ErrorCode {
  if (code !== undefined && OWN_CODES.has(code)) return code as ErrorCode
  if (code !== undefined && FRAMEWORK_CODES[code] !== undefined) return FRAMEWORK_CODES[code]
  if (statusCode >= 500) return 'INTERNAL_ERROR'
  return CODES_BY_STATUS[statusCode] ?? 'BAD_REQUEST'
}

/** Database failures a client can retry become 503s; their driver messages are never sent. */
export function translateDatabaseError (err: FastifyError): FastifyError {
  if (err instanceof MongoServerError && Number((err as { code?: unknown }).code) === MAX_TIME_EXPIRED) return new QueryTimeoutError()
  if (isDatabaseUnreachable(err)) return new DatabaseUnavailableError()
  if (isDiskFull(err)) return Object.assign(new DatabaseFullError(), { retryAfter: DISK_FULL_RETRY_AFTER_SECONDS })
  return err
}

export default fp(errorHandlerPlugin, { fastify: '5.x', name: 'error-handler' })
