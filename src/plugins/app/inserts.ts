import { MongoBulkWriteError, type Collection, type OptionalUnlessRequiredId } from 'mongodb'

const DUPLICATE_KEY = 11000

/** Idempotent inserts: a document already there (an earlier attempt, another replica) is fine. */
export async function insertIgnoringDuplicates<T extends { _id: string }> (collection: Collection<T>, docs: T[]): Promise<void> {
  try {
    await collection.insertMany(docs as unknown as Array<OptionalUnlessRequiredId<T>>, { ordered: false })
  } catch (err) {
    const writeErrors = err instanceof MongoBulkWriteError ? (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]) : []
    if (writeErrors.length === 0 || writeErrors.some((writeError) => writeError.code !== DUPLICATE_KEY)) throw err
  }
}
