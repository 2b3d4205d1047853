import {
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError
} from 'mongodb'

/**
 * Which failures of the database a client may retry, told apart once: the error handler answers them 503, the
 * write path fails the writes queued behind one at once, and readiness reports a full disk.
 */

const SOCKET_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT'])

/** The database cannot be reached now: no server selected, the connection lost or closed. */
export function isDatabaseUnreachable (err: unknown): boolean {
  if (!(err instanceof MongoError)) return isSocketError(err)
  return err instanceof MongoNetworkError || err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError || err instanceof MongoTopologyClosedError ||
    err.hasErrorLabel('RetryableWriteError') || err.hasErrorLabel('TransientTransactionError')
}

/**
 * A system error from a socket: the driver lets some through unwrapped (a command write that waited for
 * 'drain' when the connection was reset gets the bare ECONNRESET), and the database is the only peer
 * the service's handlers talk to.
 */
function isSocketError (err: unknown): boolean {
  return err instanceof Error && 'syscall' in err && SOCKET_ERROR_CODES.has(String((err as { code?: unknown }).code))
}

/** MongoDB's code when its disk space monitor refuses writes (OutOfDiskSpace, MongoDB 7). */
const OUT_OF_DISK_SPACE = 14031
/**
 * The database's storage is full. FerretDB 1.24 on SQLite answers a write that needs a page SQLite cannot get with
 * code 1 (InternalError) and its Go error chain as the message, ending in SQLite's SQLITE_FULL text, e.g.
 * `[msg_insert.go:168 handler.(*Handler).MsgInsert] [collection.go:135 sqlite.(*collection).InsertAll.func1]
 * database or disk is full (13)`; a bulk insert gets it wrapped in a MongoBulkWriteError without write errors.
 * MongoDB refuses writes with OutOfDiskSpace, or passes the system's "No space left on device" on.
 */
export function isDiskFull (err: unknown): boolean {
  if (!(err instanceof MongoError)) return false
  if (Number(err.code) === OUT_OF_DISK_SPACE) return true
  return /database or disk is full|SQLITE_FULL|No space left on device/i.test(err.message)
}
