/**
 * The tile paths of C2SP tlog-tiles (https://c2sp.org/tlog-tiles), under a log's prefix: `tile/<L>/<N>[.p/<W>]`,
 * L from 0 to 63 and W from 1 to 255 in decimal without leading zeros, N in 3-digit path elements of which
 * all but the last begin with `x` (1234067 is `x001/x234/067`). `tile/entries/...` names entry bundles, which
 * this service does not publish (entries are events with personal data).
 */
export type TilePath =
  | { kind: 'hashes', level: number, index: number, width?: number }
  | { kind: 'entries' }

const PATH = /^(0|[1-9][0-9]?|entries)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/

/** What the path after `tile/` names, or undefined when it is no tile path of the spec. */
export function parseTilePath (path: string): TilePath | undefined {
  const match = PATH.exec(path)
  if (match === null) return undefined
  const [, level, digits, width] = match as unknown as [string, string, string, string | undefined]
  if (level === 'entries') return { kind: 'entries' }
  const index = Number(digits.replaceAll('x', '').replaceAll('/', ''))
  const w = width === undefined ? undefined : Number(width)
  if (Number(level) > 63 || !Number.isSafeInteger(index) || (w !== undefined && w > 255)) return undefined
  // one spelling per index: no leading "x000/" elements
  if (digits.startsWith('x000/')) return undefined
  return { kind: 'hashes', level: Number(level), index, ...(w === undefined ? {} : { width: w }) }
}

/** The path of a tile after `tile/`, as the spec spells it. */
export function formatTilePath (level: number, index: number, width?: number): string {
  const digits = String(index).padStart(3, '0')
  const groups: string[] = []
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(digits.slice(Math.max(0, end - 3), end).padStart(3, '0'))
  const n = groups.map((group, i) => (i < groups.length - 1 ? 'x' : '') + group).join('/')
  return `${level}/${n}${width === undefined ? '' : `.p/${width}`}`
}
