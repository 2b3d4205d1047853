import type { Collection, Document, Filter, Sort } from 'mongodb'
import { insertUnique } from './duplicate-key.js'

/**
 * Newest-record-wins: a value that changes (a counter's mark, a tree's head, a lease's term, a worker's
 * progress) is kept as one small record per version, inserted and never updated; the newest version is the
 * value, and older ones are pruned behind it.
 *
 * Why: FerretDB 1.24 loses concurrent updates of one document (50 concurrent `$inc` of 1 add up to 7 there),
 * while it enforces a unique `_id` for every writer. A version's `_id` names it, so of two writers of the same
 * version exactly one succeeds, and the loser learns it.
 * On MongoDB: one document per key, updated with `findOneAndUpdate` (`$max`, or a version precondition in the
 * filter), would do the same in one operation; this class is the seam where such a store would go.
 *
 * `versionFields` order the versions, most significant first (`['epoch', 'n']` reads "newest epoch, then newest n").
 */
export class VersionedRecords<T extends { _id: string }> {
  private readonly newestFirst: Sort

  constructor (readonly collection: Collection<T>, private readonly versionFields: Array<keyof T & string>) {
    this.newestFirst = Object.fromEntries(versionFields.map((field) => [field, -1])) as Sort
  }

  /** Records a version: true when this call wrote it, false when that version was already there. */
  async append (doc: T): Promise<boolean> {
    return await insertUnique(this.collection, doc)
  }

  /** The newest version among the records that `filter` selects. */
  async newest (filter: Filter<T>): Promise<T | undefined> {
    const [doc] = await this.collection.find(filter).sort(this.newestFirst).limit(1).toArray()
    return doc as T | undefined
  }

  /**
   * The newest version of every value the collection holds, keyed by `key` (a tenant, say): one read of the
   * whole collection, which pruning keeps to a few records per key. `projection` may leave out large fields.
   */
  async newestOfEach (key: keyof T & string, projection?: Document): Promise<Map<string, T>> {
    const newest = new Map<string, T>()
    for (const doc of await this.collection.find({}, projection === undefined ? {} : { projection }).toArray() as T[]) {
      const id = String(doc[key])
      const current = newest.get(id)
      if (current === undefined || this.compare(doc, current) > 0) newest.set(id, doc)
    }
    return newest
  }

  /** Deletes the records that `filter` selects whose version comes before `version`'s. */
  async pruneBefore (filter: Filter<T>, version: Partial<T>): Promise<void> {
    await this.collection.deleteMany({ ...filter, ...this.before(version) } as Filter<T>)
  }

  private compare (a: T, b: T): number {
    for (const field of this.versionFields) {
      if (a[field] !== b[field]) return (a[field] as number) < (b[field] as number) ? -1 : 1
    }
    return 0
  }

  /** A filter for "ordered before `version`", lexicographically over the version fields. */
  private before (version: Partial<T>): Filter<T> {
    const alternatives = this.versionFields.map((field, i) => ({
      ...Object.fromEntries(this.versionFields.slice(0, i).map((earlier) => [earlier, version[earlier]])),
      [field]: { $lt: version[field] }
    }))
    return (alternatives.length === 1 ? alternatives[0] : { $or: alternatives }) as Filter<T>
  }
}
