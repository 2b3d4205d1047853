import type { FindCursor } from 'mongodb'
import type { FastifyBaseLogger } from 'fastify'
import { COMMON_FIELDS, type Event } from '../../../schemas/event.js'
import { toPublicEvent, type StoredEvent } from './record.js'

export const EXPORT_FORMATS = {
  ndjson: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' },
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv' }
} as const
export type ExportFormat = keyof typeof EXPORT_FORMATS

export const CSV_COLUMNS = [
  'id',
  'seq',
  'timestamp',
  'tenant',
  'submitted_by',
  ...COMMON_FIELDS,
  'event_id',
  'occurred_at',
  'event_specificdetails',
  'hash',
  'erased',
  // last, so that the columns before it keep the places they had before event types (#31); with the fields above it
  // the leaf of an event of a registered type recomputes from its row
  'schema_version'
] as const

/** Rows buffered into one chunk: fewer, larger writes without holding more than a few hundred events. */
const ROWS_PER_CHUNK = 200

/**
 * The export body, produced as the consumer reads it: memory stays constant whatever the result size.
 * Closing the generator (the client went away) closes the database cursor.
 */
export async function * exportLines (
  cursor: FindCursor<StoredEvent> | null,
  format: ExportFormat,
  log: FastifyBaseLogger,
  onEnd?: ExportEnd
): AsyncGenerator<string> {
  let rows = 0
  let finished = false
  try {
    if (format === 'csv') yield CSV_COLUMNS.join(',') + '\r\n'
    if (cursor === null) {
      finished = true
      return
    }
    yield * exportRows(cursor, format, log, (sent) => {
      rows += sent
    })
    finished = true
  } finally {
    onEnd?.(rows, finished)
  }
}

/** Told, once the export's stream ends, how many events it produced and whether it ran to the end. */
export type ExportEnd = (count: number, finished: boolean) => void

/** The rows, in chunks; `handedOver` is told how many events each chunk held once the consumer took it. */
async function * exportRows (
  cursor: FindCursor<StoredEvent>,
  format: ExportFormat,
  log: FastifyBaseLogger,
  handedOver: (rows: number) => void
): AsyncGenerator<string> {
  let chunk = ''
  let rows = 0
  try {
    for await (const doc of cursor) {
      const event = toPublicEvent(doc)
      chunk += format === 'csv' ? csvRow(event) : JSON.stringify(event) + '\n'
      if (++rows % ROWS_PER_CHUNK === 0) {
        yield chunk
        handedOver(ROWS_PER_CHUNK)
        chunk = ''
      }
    }
    if (chunk !== '') {
      yield chunk
      handedOver(rows % ROWS_PER_CHUNK)
    }
  } finally {
    await cursor.close().catch((err: unknown) => log.warn({ err }, 'closing the export cursor failed'))
  }
}

export function csvRow (event: Event): string {
  return CSV_COLUMNS.map((column) => {
    const value = event[column]
    // an erased field (null) is an empty cell; the `erased` column names it
    if (value === undefined || value === null) return ''
    return csvField(typeof value === 'string' ? value : JSON.stringify(value))
  }).join(',') + '\r\n'
}

/**
 * RFC 4180: quote fields holding a comma, quote or line break; double the quotes. A cell a spreadsheet
 * would run as a formula (starting with = + - @, tab or CR) gets a leading `'` (OWASP CSV injection);
 * NDJSON is the lossless format.
 */
function csvField (text: string): string {
  const cell = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell
}
