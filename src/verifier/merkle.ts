import { createHash } from 'node:crypto'

/**
 * The Merkle tree hashing of RFC 9162 (Certificate Transparency v2), section 2.1: a leaf hash is
 * SHA-256(0x00 || leaf), an interior node SHA-256(0x01 || left || right), and a tree of n leaves splits
 * at the largest power of two below n. Sizes and indexes are plain numbers (safe to 2^53), so halving is
 * done with arithmetic, never with 32-bit shifts.
 */

const LEAF_PREFIX = Buffer.from([0x00])
const NODE_PREFIX = Buffer.from([0x01])

export function hashLeaf (leaf: Buffer): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest()
}

export function hashChildren (left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest()
}

/** The root of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT = createHash('sha256').digest()

/** The largest power of two strictly below n (n ≥ 2). */
export function splitPoint (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** MTH(D[n]) of leaf hashes already computed, in O(n) hashes and O(log n) memory. */
export function rootFromLeafHashes (leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT
  // a stack of complete subtrees, largest first: the compact range of the leaves seen so far
  const stack: Array<{ hash: Buffer, size: number }> = []
  for (const leaf of leaves) {
    let node = { hash: leaf, size: 1 }
    while (stack.length > 0 && (stack[stack.length - 1] as { size: number }).size === node.size) {
      const left = stack.pop() as { hash: Buffer, size: number }
      node = { hash: hashChildren(left.hash, node.hash), size: node.size * 2 }
    }
    stack.push(node)
  }
  return foldCompactRange(stack.map((node) => node.hash))
}

/** The root over complete subtrees listed largest (leftmost) first: RFC 9162's split is their right fold. */
export function foldCompactRange (hashes: Buffer[]): Buffer {
  if (hashes.length === 0) return EMPTY_ROOT
  let root = hashes[hashes.length - 1] as Buffer
  for (let i = hashes.length - 2; i >= 0; i--) root = hashChildren(hashes[i] as Buffer, root)
  return root
}

const isOdd = (n: number): boolean => n % 2 === 1
const half = (n: number): number => Math.floor(n / 2)

/** RFC 9162 2.1.3.2: does `path` prove the leaf at `index` into the tree of `size` with this root? */
export function verifyInclusion (index: number, size: number, leaf: Buffer, path: Buffer[], root: Buffer): boolean {
  return rootFromInclusion(index, size, leaf, path)?.equals(root) ?? false
}

/** The root RFC 9162 2.1.3.2 computes from a leaf and its path, or undefined when the path cannot be one for that index and size. */
export function rootFromInclusion (index: number, size: number, leaf: Buffer, path: Buffer[]): Buffer | undefined {
  if (index < 0 || index >= size) return undefined
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of path) {
    if (sn === 0) return undefined
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r)
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) { fn = half(fn); sn = half(sn) }
      }
    } else {
      r = hashChildren(r, p)
    }
    fn = half(fn)
    sn = half(sn)
  }
  return sn === 0 ? r : undefined
}

/** The root of leaf hashes already computed and every leaf's inclusion path to it (RFC 9162 2.1.3.1), in O(n log n). */
export function rootAndPaths (leaves: Buffer[]): { root: Buffer, paths: Buffer[][] } {
  const paths: Buffer[][] = leaves.map(() => [])
  // MTH(D[lo:hi]), appending each side's root to the other side's paths: deeper siblings come first, as a path lists them
  const subtree = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return leaves[lo] as Buffer
    const k = splitPoint(hi - lo)
    const left = subtree(lo, lo + k)
    const right = subtree(lo + k, hi)
    for (let i = lo; i < lo + k; i++) (paths[i] as Buffer[]).push(right)
    for (let i = lo + k; i < hi; i++) (paths[i] as Buffer[]).push(left)
    return hashChildren(left, right)
  }
  return { root: leaves.length === 0 ? EMPTY_ROOT : subtree(0, leaves.length), paths }
}

/** RFC 9162 2.1.4.2: does `proof` show that the tree of size `first` is a prefix of the tree of size `second`? */
export function verifyConsistency (first: number, second: number, firstRoot: Buffer, secondRoot: Buffer, proof: Buffer[]): boolean {
  if (first < 1 || first > second) return false
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot)
  if (proof.length === 0) return false
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : proof
  let fn = first - 1
  let sn = second - 1
  while (isOdd(fn)) { fn = half(fn); sn = half(sn) }
  let fr = path[0] as Buffer
  let sr = path[0] as Buffer
  for (const c of path.slice(1)) {
    if (sn === 0) return false
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr)
      sr = hashChildren(c, sr)
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) { fn = half(fn); sn = half(sn) }
      }
    } else {
      sr = hashChildren(sr, c)
    }
    fn = half(fn)
    sn = half(sn)
  }
  return fr.equals(firstRoot) && sr.equals(secondRoot) && sn === 0
}

export function isPowerOfTwo (n: number): boolean {
  return n > 0 && splitPoint(n * 2) === n
}
