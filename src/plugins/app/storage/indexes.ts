import type { Collection, Document, IndexDescription } from 'mongodb'

/**
 * Creates the indexes a collection needs, idempotently, at startup. Only missing ones are created,
 * one per command: FerretDB 1.24 drops the connection (a server-side panic) when one createIndexes
 * command names several indexes that already exist.
 */
export async function ensureIndexes<T extends Document> (collection: Collection<T>, indexes: IndexDescription[]): Promise<void> {
  const existing = await indexNames(collection)
  for (const index of indexes) {
    if (index.name !== undefined && existing.has(index.name)) continue
    await collection.createIndexes([index])
  }
}

/** Whether the collection has this index (by name). */
export async function hasIndex<T extends Document> (collection: Collection<T>, index: IndexDescription): Promise<boolean> {
  return index.name !== undefined && (await indexNames(collection)).has(index.name)
}

async function indexNames<T extends Document> (collection: Collection<T>): Promise<Set<string>> {
  const names = new Set<string>()
  try {
    for (const index of await collection.listIndexes().toArray()) names.add(String(index.name))
  } catch (err) {
    // a collection that does not exist yet has no indexes (NamespaceNotFound)
    if ((err as { code?: unknown }).code !== 26) throw err
  }
  return names
}
