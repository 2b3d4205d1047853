import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import type { CommandStartedEvent } from 'mongodb'
import { build } from '../helper.js'
import { hashChildren, hashLeaf, splitPoint, verifyConsistency, verifyInclusion } from '../../src/verifier/merkle.js'
import type { MerkleTrees, TreeHead } from '../../src/plugins/app/integrity/tree.js'

/** RFC 9162's definitions, written out recursively: what the tiled tree must agree with. */
function mth (leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest()
  if (leaves.length === 1) return leaves[0] as Buffer
  const k = splitPoint(leaves.length)
  return hashChildren(mth(leaves.slice(0, k)), mth(leaves.slice(k)))
}

function leavesOf (count: number, salt = ''): Buffer[] {
  return Array.from({ length: count }, (_, i) => hashLeaf(Buffer.from(`${salt}leaf ${i}`)))
}

async function grow (trees: MerkleTrees, head: TreeHead, leaves: Buffer[]): Promise<TreeHead> {
  return await trees.append(head, leaves)
}

t.test('the tiled tree agrees with RFC 9162 at every size, across tile edges', async (t) => {
  const app = await build(t)
  const trees = app.merkleTrees
  const leaves = leavesOf(700)
  let head = await trees.head('small')
  // appended in uneven pieces, so tile edges fall inside an append and between two
  for (const [from, to] of [[0, 1], [1, 3], [3, 255], [255, 256], [256, 257], [257, 600], [600, 700]] as const) {
    head = await grow(trees, head, leaves.slice(from, to))
    t.ok(head.root.equals(mth(leaves.slice(0, to))), `root at size ${to}`)
  }
  const view = await trees.view('small')
  for (const size of [1, 2, 3, 7, 255, 256, 257, 511, 512, 513, 700]) {
    const root = mth(leaves.slice(0, size))
    t.ok((await view.root(size)).equals(root), `an older size's root (${size}) from the same tiles`)
    for (const index of new Set([0, 1, Math.floor(size / 2), size - 2, size - 1].filter((i) => i >= 0 && i < size))) {
      const path = await view.inclusionProof(index, size)
      if (!verifyInclusion(index, size, leaves[index] as Buffer, path, root)) t.fail(`inclusion of ${index} in ${size}`)
      if (path.length > 0 && verifyInclusion(index, size, leaves[(index + 1) % size] as Buffer, path, root)) {
        t.fail(`another leaf passed for ${index} in ${size}`)
      }
    }
    for (const from of new Set([1, 2, 3, Math.max(1, size - 1), Math.ceil(size / 2)].filter((m) => m <= size))) {
      const proof = await view.consistencyProof(from, size)
      if (!verifyConsistency(from, size, mth(leaves.slice(0, from)), root, proof)) t.fail(`consistency ${from} → ${size}`)
      if (from < size && verifyConsistency(from, size, mth(leavesOf(from, 'other ')), root, proof)) {
        t.fail(`another tree passed ${from} → ${size}`)
      }
    }
  }
  t.pass('inclusion and consistency proofs verify for every size tried, and fail for other leaves and trees')
  const again = await trees.append(await trees.head('small'), [])
  t.equal(again.size, 700, 'appending nothing changes nothing')
})

t.test('at 100,000 leaves a proof or a root costs a few small reads by key, and none of the event log', async (t) => {
  const app = await build(t, { monitorCommands: true })
  const trees = app.merkleTrees
  const leaves = Array.from({ length: 100_000 }, () => randomBytes(32))
  let head = await trees.head('big')
  for (let from = 0; from < leaves.length; from += 25_000) head = await grow(trees, head, leaves.slice(from, from + 25_000))
  t.ok(head.root.equals(mth(leaves)), 'the root of 100,000 leaves')

  const commands: CommandStartedEvent[] = []
  const client = app.mongo.client
  // this tree's reads: the folder and the checkpoint signer keep reading their own small collections meanwhile
  const everything: CommandStartedEvent[] = []
  const listen = (event: CommandStartedEvent) => {
    everything.push(event)
    if (
      ['merkle_tiles', 'merkle_heads'].includes(event.command[event.commandName]) &&
      JSON.stringify(event.command.filter).includes('"big')
    ) { commands.push(event) }
  }
  client.on('commandStarted', listen)
  const view = await trees.view('big')
  const index = 76_543
  const path = await view.inclusionProof(index, 100_000)
  const inclusionReads = commands.length
  const proof = await view.consistencyProof(54_321, 100_000)
  const olderRoot = await view.root(54_321)
  client.off('commandStarted', listen)

  t.ok(verifyInclusion(index, 100_000, leaves[index] as Buffer, path, head.root), 'the inclusion proof verifies')
  t.ok(verifyConsistency(54_321, 100_000, mth(leaves.slice(0, 54_321)), head.root, proof), 'the consistency proof verifies')
  t.ok(olderRoot.equals(mth(leaves.slice(0, 54_321))), 'an older root is recomputed from the tiles')
  t.ok(everything.every((event) => event.command[event.commandName] !== 'events'), 'no read of the event log')
  // log256(100,000) ≈ 2.1 levels: the head, then at most a few tiles per level for each proof
  t.ok(inclusionReads <= 6, `an inclusion proof read ${inclusionReads} documents' worth of finds (≤ 6)`)
  t.ok(commands.length <= 16, `an inclusion proof, a consistency proof and an older root together made ${commands.length} finds (≤ 16)`)
  const filters = commands.map((event) => JSON.stringify(event.command.filter))
  t.ok(
    filters.every((filter) => /^\{"(_id|tenant)":"big[^"]*"\}$/.test(filter)),
    `each one by key (a tile's _id) or the head by tenant: ${filters.join(' ')}`
  )
})
