import type { IndexDescription } from 'mongodb'
import type { DatabaseKind } from './database-kind.js'

/**
 * How free text (`q`) is matched, by database. MongoDB: `index`, a `$text` query on a text index that starts
 * with the tenant, so one tenant's words are read from the index: any of the words, whole words, case-insensitive;
 * language `none`, so no word is dropped as a stop word and none is stemmed (the log's text is in any language).
 * FerretDB 1.24 has no text index and no `$text`: `substring`, a case-insensitive pattern over the same fields,
 * checked inside the scan every read there already is (bounded by QUERY_MAX_TIME_MS like any other).
 */
export type TextSearch = 'index' | 'substring'

export function textSearchFor (kind: DatabaseKind): TextSearch {
  return kind === 'mongodb' ? 'index' : 'substring'
}

/** The text index of `fields`, after the tenant every query names (MongoDB allows one text index per collection). */
export function textIndex (fields: readonly string[]): IndexDescription {
  return { key: { tenant: 1, ...Object.fromEntries(fields.map((field) => [field, 'text'])) }, name: 'tenant_text', default_language: 'none' }
}
