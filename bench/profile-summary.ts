import { readFileSync } from 'node:fs'

/**
 * `tsx bench/profile-summary.ts <file.cpuprofile> [top] [skip-seconds]`: where a `--cpu-prof` profile of the service
 * spent its time, by function (self time) and by package. Enough to see what a missed target costs
 * without opening a flame graph (for that, load the file in Chrome DevTools or speedscope). Samples of
 * the first `skip-seconds` (the service's start: module loading, tsx compiling) can be left out.
 */
interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

const [file, topArg, skipArg] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]\n')
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const top = Number(topArg ?? 25)
const skipUs = Number(skipArg ?? 0) * 1e6

const byNode = new Map(profile.nodes.map((node) => [node.id, node]))
const selfUs = new Map<number, number>()
let at = 0
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i] ?? 0
  if (at >= skipUs) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
})
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0)

const parentOf = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)

const byFunction = new Map<string, number>()
/** Time with the function anywhere on the stack (counted once per sample). */
const inclusive = new Map<string, number>()
const byPackage = new Map<string, number>()
for (const [id, us] of selfUs) {
  const frame = (byNode.get(id) as ProfileNode).callFrame
  const key = label(frame)
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  byPackage.set(packageOf(frame.url, frame.functionName), (byPackage.get(packageOf(frame.url, frame.functionName)) ?? 0) + us)
  const onStack = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    onStack.add(label((byNode.get(at) as ProfileNode).callFrame))
  }
  for (const name of onStack) inclusive.set(name, (inclusive.get(name) ?? 0) + us)
}

function label (frame: ProfileNode['callFrame']): string {
  const where = frame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')
  return `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`
}

function packageOf (url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (match !== null) return match[1] as string
  if (url.startsWith('node:')) return 'node core'
  if (url.includes('/src/')) return 'src (the service)'
  return url.replace(/^.*\//, '')
}

/**
 * The service's CPU by area, for the candidates: a sample goes to the first area (in this order) with a frame
 * on its stack, so the leaf hashing inside a bulk write is the leaf's, not the driver's. Shares are of the busy time.
 */
const AREAS: Array<[string, (frame: ProfileNode['callFrame']) => boolean]> = [
  ['leaf hash and commitments (placeInLog)', (f) => f.functionName === 'placeInLog'],
  ['authentication (token, user, API key)', (f) => f.functionName === 'authenticate' && f.url.includes('authorization')],
  ['receipts (signing, signer record)', (f) => /integrity\/(receipts|signer-state)/.test(f.url)],
  ['request body JSON parse', (f) => f.functionName === 'parseUtf8Json' || f.functionName === 'defaultJsonParser'],
  ['schema validation', (f) => f.url.includes('fastify/lib/validation')],
  ['response serialization', (f) => f.functionName === 'serialize' && f.url.includes('fastify/lib/reply')],
  ['rate limit', (f) => f.url.includes('@fastify/rate-limit')],
  ['logging (pino)', (f) => f.url.includes('/pino')],
  ['metrics', (f) => f.url.includes('prom-client') || f.url.includes('/metrics/')],
  ['MongoDB driver and BSON', (f) => f.url.includes('node_modules/mongodb') || f.url.includes('node_modules/bson')],
  ['garbage collector', (f) => f.functionName === '(garbage collector)'],
  ['fastify (routing, hooks, reply)', (f) => f.url.includes('node_modules/fastify/')],
  ['the service, other', (f) => f.url.includes('/src/')],
  ['node core (HTTP, sockets, timers)', (f) => f.url.startsWith('node:') || f.url === '']
]
const byArea = new Map<string, number>()
let busyUs = 0
for (const [id, us] of selfUs) {
  const frames: Array<ProfileNode['callFrame']> = []
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) frames.push((byNode.get(at) as ProfileNode).callFrame)
  if (frames[0]?.functionName === '(idle)') continue
  busyUs += us
  const area = AREAS.find(([, matches]) => frames.some(matches))?.[0] ?? 'other'
  byArea.set(area, (byArea.get(area) ?? 0) + us)
}

const pct = (us: number) => `${(100 * us / totalUs).toFixed(1).padStart(5)}%`
process.stdout.write(`${file}: ${(totalUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy\n\nBy area (share of busy time):\n`)
for (const [name, us] of [...byArea].sort((a, b) => b[1] - a[1])) {
  process.stdout.write(`  ${(100 * us / busyUs).toFixed(1).padStart(5)}%  ${name}\n`)
}
process.stdout.write('\nBy package (self time):\n')
for (const [name, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`  ${pct(us)}  ${name}\n`)
process.stdout.write(`\nTop ${top} functions (self time):\n`)
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(us)}  ${name}\n`)
process.stdout.write(`\nTop ${top} functions (total time, with what they call; the service's own code and named plugins):\n`)
for (const [name, us] of [...inclusive]
  .filter(([name]) => !name.startsWith('('))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top)) { process.stdout.write(`  ${pct(us)}  ${name}\n`) }
