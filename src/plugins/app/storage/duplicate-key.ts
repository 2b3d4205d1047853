import { MongoBulkWriteError, type Collection, type OptionalUnlessRequiredId } from 'mongodb'

/**
 * The duplicate-key toolkit: how every store here turns "a document with this unique key is already there"
 * into an answer instead of an error. The server's code for it, the one place it is spelled.
 * Both MongoDB and FerretDB enforce unique indexes for every writer, which is what the insert-only shapes of
 * this service rest on (see ./README.md).
 */
const DUPLICATE_KEY = 11000

/** Whether an error (or one write error of a bulk write) is a unique-key collision. */
export function isDuplicateKey (err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === DUPLICATE_KEY
}

/** Idempotent inserts: a document already there (an earlier attempt, another replica) is fine. */
export async function insertIgnoringDuplicates<T extends { _id: string }> (collection: Collection<T>, docs: T[]): Promise<void> {
  try {
    await collection.insertMany(docs as unknown as Array<OptionalUnlessRequiredId<T>>, { ordered: false })
  } catch (err) {
    const writeErrors = err instanceof MongoBulkWriteError ? (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]) : []
    if (writeErrors.length === 0 || !writeErrors.every(isDuplicateKey)) throw err
  }
}

/** Inserts one document unless its unique key is taken: true when this call wrote it, false when another writer did first. */
export async function insertUnique<T extends { _id: unknown }> (collection: Collection<T>, doc: T): Promise<boolean> {
  try {
    await collection.insertOne(doc as OptionalUnlessRequiredId<T>)
    return true
  } catch (err) {
    if (isDuplicateKey(err)) return false
    throw err
  }
}
