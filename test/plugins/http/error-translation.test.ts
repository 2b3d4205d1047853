import t from 'tap'
import { createConnection } from 'node:net'
import type { FastifyError } from 'fastify'
import { translateDatabaseError } from '../../../src/plugins/app/http/error-handler.js'
import { freePort } from '../../../src/embedded/ferretdb.js'

/** A real system error from a socket: what the driver sometimes lets through unwrapped. */
async function refusedConnectionError (): Promise<FastifyError> {
  const port = await freePort()
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('error', (err) => resolve(err as unknown as FastifyError))
  })
}

t.test('a bare socket error from the database connection becomes a retryable 503', async (t) => {
  const err = await refusedConnectionError()
  t.equal(err.code, 'ECONNREFUSED')
  t.match(translateDatabaseError(err), { statusCode: 503, code: 'DATABASE_UNAVAILABLE' })
})

t.test('other errors pass through untouched', async (t) => {
  const plain = Object.assign(new Error('boom'), { code: 'SOMETHING' }) as FastifyError
  t.equal(translateDatabaseError(plain), plain)
  const client = Object.assign(new Error('bad'), { statusCode: 400, code: 'FST_ERR_VALIDATION' }) as FastifyError
  t.equal(translateDatabaseError(client), client)
})
