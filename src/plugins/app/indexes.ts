import type { Collection, Document, IndexDescription } from 'mongodb'

/**
 * Creates the indexes a collection needs, idempotently, at startup. Only missing ones are created,
 * one per command: FerretDB 1.24 drops the connection (a server-side panic) when one createIndexes
 * command names several indexes that already exist.
 */
export async function ensureIndexes<T extends Document> (collection: Collection<T>, indexes: IndexDescription[]): Promise<void> {
  const existing = new Set<string>()
  try {
    for (const index of await collection.listIndexes().toArray()) existing.add(String(index.name))
  } catch (err) {
    // a collection that does not exist yet has no indexes (NamespaceNotFound)
    if ((err as { code?: unknown }).code !== 26) throw err
  }
  for (const index of indexes) {
    if (index.name !== undefined && existing.has(index.name)) continue
    await collection.createIndexes([index])
  }
}
