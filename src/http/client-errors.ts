import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

/**
 * Fastify's `clientErrorHandler`, for what Node refuses before there is a request (a request or header
 * timeout, headers over the size limit, unparsable HTTP): the same Error body as every other answer, with
 * a code, instead of Fastify's code-less one. The connection is closed afterwards, as Node does.
 */
const CLIENT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'REQUEST_TIMEOUT',
    message: 'The request was not received in time (REQUEST_TIMEOUT_MS or HEADERS_TIMEOUT_MS)'
  },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'HEADERS_TOO_LARGE', message: 'The request headers are too large' }
}
const MALFORMED = { status: 400, code: 'BAD_REQUEST', message: 'Malformed HTTP request' }

export function clientErrorHandler (this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  // a reset connection has nobody to answer
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { status, code, message } = CLIENT_ERRORS[err.code ?? ''] ?? MALFORMED
  this.log.info({ code, statusCode: status }, 'client error before a request')
  if (socket.writable) {
    const body = JSON.stringify({ statusCode: status, code, error: STATUS_CODES[status], message })
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
    )
  }
  socket.destroy(err)
}
