import { BadRequestError, NotFoundError, NotInTreeError } from '../../../errors.js'
import { parseTilePath, type TilePath } from './tile-path.js'
import { TreeSizeError, type TreeView } from './tree.js'

type HashTilePath = Extract<TilePath, { kind: 'hashes' }>

/**
 * The hash tile a C2SP tlog-tiles path names (the part after `tile/`), or the client's error: 400 for what is no
 * tile path of the spec, 404 for entry bundles, which this log never publishes (its entries are events with
 * personal data).
 */
export function hashTilePath (path: string): HashTilePath {
  const parsed = parseTilePath(path)
  if (parsed === undefined) throw new BadRequestError(`"tile/${path}" is not a tile path: tile/<L>/<N>[.p/<W>] (C2SP tlog-tiles)`)
  if (parsed.kind === 'entries') throw new NotFoundError('Entry bundles (this log publishes hash tiles only: its entries are events with personal data)')
  return parsed
}

/**
 * The tile's bytes as the log publishes them: a full tile only once it is full, a partial one as the prefix of
 * the tile as it stands (it only grows); 404 for a tile the tree does not have yet.
 */
export async function publishedTile (view: TreeView, path: HashTilePath): Promise<Buffer> {
  let hashes: Buffer[]
  try {
    hashes = (await view.tile(path.level, path.index)).hashes
  } catch (err) {
    if (err instanceof TreeSizeError) throw new NotInTreeError(err.message)
    throw err
  }
  const width = path.width ?? 256
  if (hashes.length < width || (path.width === undefined && hashes.length !== 256)) {
    throw new NotInTreeError(`tile ${path.level}/${path.index} has ${hashes.length} hashes, not ${width}`)
  }
  return Buffer.concat(hashes.slice(0, width))
}
