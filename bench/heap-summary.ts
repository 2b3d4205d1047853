import { readFileSync } from 'node:fs'

/**
 * `tsx bench/heap-summary.ts <a.heapsnapshot> [b.heapsnapshot] [top]`: a V8 heap snapshot's shallow sizes by
 * constructor (DevTools' "Summary" view, without opening DevTools); given two, what grew from a to b. Enough
 * to see which kind of object holds the heap under load (bench/memory.ts writes the snapshots).
 */
interface Snapshot {
  snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

interface Group { count: number, bytes: number }

function summarise (file: string): Map<string, Group> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = heap.snapshot.meta.node_fields
  const types = heap.snapshot.meta.node_types[0]
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const groups = new Map<string, Group>()
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt] as number] as string
    // strings and code are grouped by kind: their names are their contents
    const name = ['object', 'closure', 'native'].includes(type) ? (heap.strings[heap.nodes[i + nameAt] as number] as string).slice(0, 60) : ''
    const key = `${type}${name === '' ? '' : ' ' + name}`
    const group = groups.get(key) ?? { count: 0, bytes: 0 }
    group.count++
    group.bytes += heap.nodes[i + sizeAt] as number
    groups.set(key, group)
  }
  return groups
}

const files = process.argv.slice(2).filter((arg) => !/^\d+$/.test(arg))
const top = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 30)
if (files.length === 0) {
  process.stderr.write('usage: tsx bench/heap-summary.ts <a.heapsnapshot> [b.heapsnapshot] [top]\n')
  process.exit(2)
}
const mb = (bytes: number) => (bytes / 1048576).toFixed(2)
const [a, b] = files.map(summarise) as [Map<string, Group>, Map<string, Group> | undefined]
const total = (groups: Map<string, Group>) => [...groups.values()].reduce((sum, g) => sum + g.bytes, 0)
if (b === undefined) {
  process.stdout.write(`${files[0]}: ${mb(total(a))} MB in ${[...a.values()].reduce((s, g) => s + g.count, 0)} objects\n\n`)
  process.stdout.write('| constructor / kind | count | shallow MB |\n|---|---:|---:|\n')
  for (const [key, group] of [...a].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, top)) {
    process.stdout.write(`| ${key} | ${group.count} | ${mb(group.bytes)} |\n`)
  }
} else {
  process.stdout.write(`${files[0]} → ${files[1]}: ${mb(total(a))} → ${mb(total(b))} MB\n\n`)
  process.stdout.write('| constructor / kind | count a | count b | MB a | MB b | grew MB |\n|---|---:|---:|---:|---:|---:|\n')
  const keys = new Set([...a.keys(), ...b.keys()])
  const grew = [...keys].map((key) => {
    const before = a.get(key) ?? { count: 0, bytes: 0 }
    const after = b.get(key) ?? { count: 0, bytes: 0 }
    return { key, before, after, delta: after.bytes - before.bytes }
  })
  for (const row of grew.sort((x, y) => y.delta - x.delta).slice(0, top)) {
    process.stdout.write(
      `| ${row.key} | ${row.before.count} | ${row.after.count} | ${mb(row.before.bytes)} | ${mb(row.after.bytes)} | ${mb(row.delta)} |\n`
    )
  }
}
