import type { Checkpoint, PublishedKey } from './checkpoint.js'
import type { SignedHorizon } from './horizon.js'
import type { EventForLeaf } from './leaf.js'
import type { VerifyInput } from './verify.js'

export class UsageError extends Error {}

export /** Everything the check needs, read from the service: export, checkpoint, tiles and the consistency proof. */
async function fromService (
  url: string,
  token: string,
  pinnedKeys: PublishedKey[] | undefined,
  trusted: Checkpoint | undefined,
  waitMs: number,
  /** A witness policy's test: the newest checkpoint is waited for (up to waitMs) until it passes. */
  accept?: (checkpoint: Checkpoint) => boolean
): Promise<VerifyInput> {
  const get = async (path: string, auth = true): Promise<Response> => {
    const res = await fetch(new URL(path, url), { headers: auth ? { authorization: `Bearer ${token}` } : {} })
    if (res.status === 404) throw new NotFound(`GET ${path}: 404 ${await res.text()}`)
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
    return res
  }
  const keys = pinnedKeys ?? keyList(await (await get('/integrity/keys', false)).json())
  // the newest checkpoint before the export: every seq it covers was stored before the export began, so
  // the export must hold it; a seq above it may be an event written while the export ran (its own audit record)
  const before = await get('/integrity/checkpoint').then(
    async (res) => (await res.json()) as Checkpoint,
    () => undefined
  )
  const events = parseNdjson(await (await get('/events/export')).text())
  // after the export: a sweep while it ran may have moved the horizon past events the export still holds,
  // never the other way round, so every seq absent from the export below this horizon was expired by policy
  const horizon = (await optional(get('/integrity/retention-horizon'))) as SignedHorizon | undefined
  const newestSeq = Math.max(before?.tree_size ?? 0, ...events.map((event) => event.seq as number))
  // the export reads what is stored; the checkpoint covering it follows within CHECKPOINT_INTERVAL_MS
  let checkpoint = (await (await get('/integrity/checkpoint')).json()) as Checkpoint
  const wanted = (found: Checkpoint): boolean => found.tree_size >= newestSeq && (accept === undefined || accept(found))
  for (const deadline = Date.now() + waitMs; !wanted(checkpoint) && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    checkpoint = (await (await get('/integrity/checkpoint')).json()) as Checkpoint
  }
  const tiles = Math.ceil(checkpoint.tree_size / 256)
  const treeLeaves: Buffer[] = []
  for (let first = 0; first < tiles; first += 8) {
    const batch = await Promise.all(
      Array.from(
        { length: Math.min(8, tiles - first) },
        async (_, i) => ((await (await get(`/integrity/tiles/0/${first + i}`)).json()) as { hashes: string[] }).hashes
      )
    )
    for (const hashes of batch) treeLeaves.push(...hashes.map((hash) => Buffer.from(hash, 'hex')))
  }
  const input: VerifyInput = {
    events,
    checkpoint,
    keys,
    trusted,
    treeLeaves: treeLeaves.slice(0, checkpoint.tree_size),
    exportedThrough: before?.tree_size ?? 0,
    ...(horizon === undefined ? {} : { horizon })
  }
  if (trusted !== undefined && trusted.tree_size <= checkpoint.tree_size && trusted.tree_size >= 1) {
    const proof = (await (await get(`/integrity/consistency?from=${trusted.tree_size}&to=${checkpoint.tree_size}`)).json()) as {
      proof: string[]
    }
    input.consistencyProof = proof.proof.map((hash) => Buffer.from(hash, 'hex'))
  }
  return input
}

/** The answer's JSON, or undefined on a 404 (nothing of that kind yet); any other failure is thrown. */
async function optional (response: Promise<Response>): Promise<unknown> {
  try {
    return await (await response).json()
  } catch (err) {
    if (err instanceof NotFound) return undefined
    throw err
  }
}

class NotFound extends Error {}

export function keyList (body: unknown): PublishedKey[] {
  const keys = Array.isArray(body) ? body : (body as { keys?: unknown }).keys
  if (!Array.isArray(keys)) throw new UsageError('the keys file must be GET /integrity/keys\'s answer, or its array of keys')
  return keys as PublishedKey[]
}

export function parseNdjson (text: string): EventForLeaf[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as EventForLeaf)
}
