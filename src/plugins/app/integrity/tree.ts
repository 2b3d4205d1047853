import type { Binary, Collection, Db } from 'mongodb'
import { foldCompactRange, isPowerOfTwo, rootFromLeafHashes, splitPoint } from '../../../verifier/merkle.js'
import { insertIgnoringDuplicates } from '../storage/duplicate-key.js'
import { VersionedRecords } from '../storage/versioned-records.js'

/**
 * Each tenant's Merkle tree (RFC 9162 hashing), stored as tiles in the manner of C2SP tlog-tiles: a tile
 * holds 256 consecutive hashes of one level; level 0 holds leaf hashes, and each hash of level L+1 is the
 * root of a full tile of level L (a subtree of 256^(L+1) leaves). Full tiles are written once and never
 * change. The right edge, the partial tile of every level, lives in the tree's head document, one per size,
 * inserted and never updated (FerretDB loses concurrent updates of one document).
 *
 * So every hash a proof needs is in at most a few tiles per level: an inclusion or consistency proof, or
 * a root, costs O(log N) small reads by key, and never a read of the event log. Heads are pruned to the
 * newest, so that collection stays small; a full tile is never needed by anything but a proof.
 */

export const TILE_WIDTH = 256
const TILE_HEIGHT = 8

interface TileDoc {
  _id: string
  tenant: string
  level: number
  index: number
  hashes: Buffer | Binary
}

interface HeadDoc {
  _id: string
  tenant: string
  size: number
  root: string
  /** The partial tile of each level, lowest first: fewer than 256 hashes each. */
  edges: Array<Buffer | Binary>
  built_at: Date
}

/** A tree as of one size: its root and the partial tile of each level. */
export interface TreeHead {
  tenant: string
  size: number
  root: Buffer
  edges: Buffer[][]
}

export interface Tile {
  level: number
  index: number
  /** Hashes in the tile: 256 for a full tile, fewer at the right edge. */
  hashes: Buffer[]
}

export class TreeSizeError extends Error {
  override name = 'TreeSizeError'
}

export class MerkleTrees {
  readonly tiles: Collection<TileDoc>
  readonly heads: VersionedRecords<HeadDoc>

  constructor (db: Db) {
    this.tiles = db.collection<TileDoc>('merkle_tiles')
    this.heads = new VersionedRecords(db.collection<HeadDoc>('merkle_heads'), ['size'])
  }

  async ensureIndexes (): Promise<void> {
    await this.heads.collection.createIndex({ tenant: 1, size: -1 }, { name: 'tenant_size' })
  }

  /** The tenant's newest head; the empty tree when it has none. */
  async head (tenant: string): Promise<TreeHead> {
    const doc = await this.heads.newest({ tenant })
    if (doc === undefined) return { tenant, size: 0, root: rootFromLeafHashes([]), edges: [] }
    return { tenant, size: doc.size, root: Buffer.from(doc.root, 'hex'), edges: doc.edges.map((edge) => hashesOf(edge)) }
  }

  /** The newest head of every tenant. */
  async allHeads (): Promise<TreeHead[]> {
    const newest = await this.heads.newestOfEach('tenant', { edges: 0 })
    return [...newest.values()].map((doc) => ({ tenant: doc.tenant, size: doc.size, root: Buffer.from(doc.root, 'hex'), edges: [] }))
  }

  /**
   * Appends leaf hashes to the tree of `head`. Deterministic: two replicas appending the same leaves to
   * the same head write the same tiles and the same head, so a race between them is harmless.
   */
  async append (head: TreeHead, leaves: Buffer[]): Promise<TreeHead> {
    if (leaves.length === 0) return head
    const edges = head.edges.map((edge) => [...edge])
    const full: TileDoc[] = []
    let size = head.size
    for (const leaf of leaves) {
      size++
      let hash = leaf
      for (let level = 0; ; level++) {
        const edge = edges[level] ?? (edges[level] = [])
        edge.push(hash)
        if (edge.length < TILE_WIDTH) break
        const index = size / TILE_WIDTH ** (level + 1) - 1
        full.push({ _id: tileId(head.tenant, level, index), tenant: head.tenant, level, index, hashes: Buffer.concat(edge) })
        hash = rootFromLeafHashes(edge)
        edges[level] = []
      }
    }
    const next: TreeHead = { tenant: head.tenant, size, root: rootOfEdges(edges), edges }
    // tiles before the head that points past them: a reader of the new head finds every full tile it needs
    if (full.length > 0) await insertIgnoringDuplicates(this.tiles, full)
    await this.heads.append({
      _id: `${head.tenant}:${size}`,
      tenant: head.tenant,
      size,
      root: next.root.toString('hex'),
      edges: edges.map((edge) => Buffer.concat(edge)),
      built_at: new Date()
    })
    await this.heads.pruneBefore({ tenant: head.tenant }, { size })
    return next
  }

  /** A read-only view of the tenant's tree as of its newest head, for proofs; tiles are read once each. */
  async view (tenant: string): Promise<TreeView> {
    return new TreeView(await this.head(tenant), async (level, index) => {
      const doc = await this.tiles.findOne({ _id: tileId(tenant, level, index) })
      return doc === null ? undefined : hashesOf(doc.hashes)
    })
  }
}

/**
 * Hashes of the tree, for any size up to the head's: a tree of an older size is a prefix of this one, so
 * everything it needs is in the same tiles.
 */
export class TreeView {
  private readonly cache = new Map<string, Promise<Buffer[]>>()

  constructor (readonly head: TreeHead, private readonly readTile: (level: number, index: number) => Promise<Buffer[] | undefined>) {}

  get size (): number {
    return this.head.size
  }

  /** A tile as the head knows it: full from the store, or the head's partial tile. */
  async tile (level: number, index: number): Promise<Tile> {
    const entries = Math.floor(this.head.size / TILE_WIDTH ** level)
    const fullTiles = Math.floor(entries / TILE_WIDTH)
    if (index < 0 || index > fullTiles || (index === fullTiles && entries % TILE_WIDTH === 0)) {
      throw new TreeSizeError(`the tree of size ${this.head.size} has no tile ${level}/${index}`)
    }
    if (index === fullTiles) return { level, index, hashes: this.head.edges[level] ?? [] }
    const key = `${level}/${index}`
    let hashes = this.cache.get(key)
    if (hashes === undefined) {
      hashes = this.readTile(level, index).then((found) => {
        if (found === undefined || found.length !== TILE_WIDTH) {
          throw new Error(`tile ${key} of ${this.head.tenant} is missing from the store`)
        }
        return found
      })
      this.cache.set(key, hashes)
    }
    return { level, index, hashes: await hashes }
  }

  /** The leaf hash at `index` (seq − 1). */
  async leaf (index: number): Promise<Buffer> {
    this.checkSize(index + 1)
    return (await this.tile(0, Math.floor(index / TILE_WIDTH))).hashes[index % TILE_WIDTH] as Buffer
  }

  /** The complete subtree of height h whose leaves are [k·2^h, (k+1)·2^h). */
  private async node (height: number, k: number): Promise<Buffer> {
    const level = Math.floor(height / TILE_HEIGHT)
    const width = 2 ** (height % TILE_HEIGHT)
    const first = k * width
    const { hashes } = await this.tile(level, Math.floor(first / TILE_WIDTH))
    const offset = first % TILE_WIDTH
    return rootFromLeafHashes(hashes.slice(offset, offset + width))
  }

  /** MTH(D[start:end]) as RFC 9162 splits it; every left part of the recursion is an aligned complete subtree. */
  async rangeHash (start: number, end: number): Promise<Buffer> {
    const n = end - start
    if (isPowerOfTwo(n) && start % n === 0) return await this.node(Math.log2(n), start / n)
    const k = splitPoint(n)
    const [left, right] = await Promise.all([this.rangeHash(start, start + k), this.rangeHash(start + k, end)])
    return foldCompactRange([left, right])
  }

  async root (size: number): Promise<Buffer> {
    this.checkSize(size)
    if (size === this.head.size) return this.head.root
    return await this.rangeHash(0, size)
  }

  /** RFC 9162 2.1.3.1: the audit path of leaf `index` in the tree of `size`. */
  async inclusionProof (index: number, size: number): Promise<Buffer[]> {
    this.checkSize(size)
    if (index < 0 || index >= size) throw new TreeSizeError(`leaf ${index + 1} is not in the tree of size ${size}`)
    return await this.path(index, 0, size)
  }

  private async path (m: number, start: number, end: number): Promise<Buffer[]> {
    const n = end - start
    if (n <= 1) return []
    const k = splitPoint(n)
    if (m < k) return [...await this.path(m, start, start + k), await this.rangeHash(start + k, end)]
    return [...await this.path(m - k, start + k, end), await this.rangeHash(start, start + k)]
  }

  /** RFC 9162 2.1.4.1: the proof that the tree of size `from` is a prefix of the tree of size `to`. */
  async consistencyProof (from: number, to: number): Promise<Buffer[]> {
    this.checkSize(to)
    if (from < 1 || from > to) throw new TreeSizeError(`no consistency proof from size ${from} to size ${to}`)
    return await this.subproof(from, 0, to, true)
  }

  private async subproof (m: number, start: number, end: number, whole: boolean): Promise<Buffer[]> {
    const n = end - start
    if (m === n) return whole ? [] : [await this.rangeHash(start, end)]
    const k = splitPoint(n)
    if (m <= k) return [...await this.subproof(m, start, start + k, whole), await this.rangeHash(start + k, end)]
    return [...await this.subproof(m - k, start + k, end, false), await this.rangeHash(start, start + k)]
  }

  private checkSize (size: number): void {
    if (size > this.head.size) throw new TreeSizeError(`the tree has ${this.head.size} leaves, not ${size}`)
  }
}

/** The root from the partial tiles: complete subtrees of the size's binary decomposition, largest first. */
function rootOfEdges (edges: Buffer[][]): Buffer {
  const subtrees: Buffer[] = []
  for (let level = edges.length - 1; level >= 0; level--) {
    const edge = edges[level] as Buffer[]
    let offset = 0
    for (let width = TILE_WIDTH / 2; width >= 1; width /= 2) {
      if ((edge.length & width) === 0) continue
      subtrees.push(rootFromLeafHashes(edge.slice(offset, offset + width)))
      offset += width
    }
  }
  return foldCompactRange(subtrees)
}

/** Stored hashes (a tile, an edge, a settlement's leaves), 32 bytes each, as separate buffers. */
export function hashesOf (stored: Buffer | Binary): Buffer[] {
  const bytes = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer)
  const hashes: Buffer[] = []
  for (let offset = 0; offset < bytes.length; offset += 32) hashes.push(bytes.subarray(offset, offset + 32))
  return hashes
}

function tileId (tenant: string, level: number, index: number): string {
  return `${tenant}/${level}/${index}`
}
