import type { CommandFailedEvent, CommandSucceededEvent, MongoClient } from 'mongodb'
import type { AuditMetrics } from './instruments.js'

const WRITES = new Set(['insert', 'update', 'delete', 'findAndModify'])
const QUERIES = new Set(['find', 'getMore', 'aggregate', 'count', 'distinct'])

/**
 * Times every database command from the driver's own command monitoring (the client is created with
 * `monitorCommands: true`): writes and reads in two histograms, labelled by the command's name from a
 * fixed set, never by collection or filter. Other commands (ping, listIndexes, hello…) are not counted.
 */
export function timeDatabaseCommands (client: MongoClient, metrics: AuditMetrics): () => void {
  function observe (event: CommandSucceededEvent | CommandFailedEvent, result: 'ok' | 'error'): void {
    const seconds = event.duration / 1000
    if (WRITES.has(event.commandName)) metrics.dbWriteDuration.observe({ command: event.commandName, result }, seconds)
    else if (QUERIES.has(event.commandName)) metrics.dbQueryDuration.observe({ command: event.commandName, result }, seconds)
  }
  const succeeded = (event: CommandSucceededEvent): void => observe(event, 'ok')
  const failed = (event: CommandFailedEvent): void => observe(event, 'error')
  client.on('commandSucceeded', succeeded)
  client.on('commandFailed', failed)
  return () => {
    client.off('commandSucceeded', succeeded)
    client.off('commandFailed', failed)
  }
}
