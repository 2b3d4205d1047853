import fp from 'fastify-plugin'
import fastifyMongodb from '@fastify/mongodb'
import type { FastifyInstance } from 'fastify'
import type { WriteConcernSettings } from 'mongodb'

export interface MongodbPluginOptions {
  url: string
  database: string
  /** How long an operation waits for a reachable server before failing (and the request gets 503). */
  timeoutMs: number
  writeConcern: WriteConcernSettings
  /** Emit driver command events (tests observe write concerns and bulk inserts through them). */
  monitorCommands?: boolean
}

const HEARTBEAT_MS = 500

/**
 * The MongoDB connection, shared by every store.
 * @see https://github.com/fastify/fastify-mongodb
 */
async function mongodbPlugin (fastify: FastifyInstance, options: MongodbPluginOptions) {
  await fastify.register(fastifyMongodb, {
    url: options.url,
    database: options.database,
    // the driver's default waits 30 s for a server; a request should fail well before a client gives up
    serverSelectionTimeoutMS: options.timeoutMs,
    connectTimeoutMS: options.timeoutMs,
    socketTimeoutMS: 0,
    // a killed or hung server is found by the monitor within a heartbeat and connectTimeoutMS, and the operations
    // waiting on it fail then (the pool is cleared, in-use connections interrupted): with the driver's 10 s between
    // heartbeats, a request on a hung database waited up to 10 s + DB_TIMEOUT_MS; 500 ms is the least allowed
    heartbeatFrequencyMS: HEARTBEAT_MS,
    writeConcern: options.writeConcern,
    // writes are already made idempotent by event_id; a retried bulk insert after a network error must not double-apply,
    // and the driver's retryWrites does exactly that safely on MongoDB (FerretDB ignores it)
    retryWrites: true,
    monitorCommands: options.monitorCommands ?? false,
    appName: 'audit-log-service',
    // let in-flight operations finish on close: pending event batches are flushed before the client closes
    forceClose: false
  })
}

export default fp(mongodbPlugin, { fastify: '5.x', name: 'mongodb' })
