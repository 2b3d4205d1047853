import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { bearer, build, sampleEvent, userWithToken } from '../helper.js'
import { verifyLog } from '../../src/verifier/verify.js'
import { parseNdjson } from '../../src/verifier/online.js'

/**
 * A checkpoint that lags the export by a moment is no forgery: the verifier checks what it covers and says
 * which events it could not (exit 2), and GET /integrity/checkpoint?min_tree_size= waits for one that covers them.
 */
let app: FastifyInstance
let writer: string
let reader: string

async function ingest (count: number): Promise<void> {
  const events = Array.from({ length: count }, (_, i) => sampleEvent({ event_specificdetails: { n: i } }))
  await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(writer), payload: { events } })
}

async function get (path: string): Promise<{ statusCode: number, payload: string }> {
  const res = await app.inject({ method: 'GET', url: path, headers: bearer(reader) })
  return { statusCode: res.statusCode, payload: res.payload }
}

async function run (args: string[]): Promise<{ code: number, stdout: string }> {
  return await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/verifier/cli.ts', ...args]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (err: { code: number, stdout: string }) => ({ code: err.code, stdout: err.stdout })
  )
}

t.before(async () => {
  app = await build(t, { config: { SEQUENCE_FOLD_MS: 20, CHECKPOINT_INTERVAL_MS: 50 } })
  writer = await userWithToken(app, { username: 'cov-w', roles: ['writer'], tenant: 'coverage' })
  reader = await userWithToken(app, { username: 'cov-r', roles: ['reader'], tenant: 'coverage' })
})

t.test('min_tree_size waits for a checkpoint that covers the seqs, and says so when none comes in time', async (t) => {
  await ingest(20)
  const covering = await get('/integrity/checkpoint?min_tree_size=20')
  t.equal(covering.statusCode, 200)
  t.ok(JSON.parse(covering.payload).tree_size >= 20, 'the answer covers the 20 seqs written just before')
  const never = await get('/integrity/checkpoint?min_tree_size=100000')
  t.equal(never.statusCode, 404, 'beyond the log, the bounded wait ends in a 404')
  t.match(JSON.parse(never.payload).message, /covering tree size 100000/)
  t.equal((await get('/integrity/checkpoint?min_tree_size=1e400')).statusCode, 400, 'a bound, like every number')
})

t.test('events beyond the checkpoint are not covered, not forged: exit 2 naming the first, and the rest still checked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coverage-'))
  const before = (await get('/integrity/checkpoint?min_tree_size=20')).payload
  await ingest(5)
  await get('/integrity/checkpoint?min_tree_size=25')
  const exported = (await get('/events/export')).payload
  const keys = (await get('/integrity/keys')).payload
  writeFileSync(join(dir, 'events.ndjson'), exported)
  writeFileSync(join(dir, 'lagging.json'), before)
  writeFileSync(join(dir, 'keys.json'), keys)
  const size = JSON.parse(before).tree_size as number

  const result = verifyLog({ events: parseNdjson(exported), checkpoint: JSON.parse(before), keys: JSON.parse(keys).keys })
  t.ok(result.ok, 'what the checkpoint covers verifies')
  t.same(result.ok ? result.verified.uncovered : undefined, { first: size + 1, last: 25, count: 25 - size })

  const lagging = await run(['--export', join(dir, 'events.ndjson'), '--checkpoint', join(dir, 'lagging.json'), '--keys', join(dir, 'keys.json')])
  t.equal(lagging.code, 2, 'could not verify: exit 2, not 1')
  t.match(lagging.stdout, /not covered by this checkpoint.*min_tree_size=25/)
  t.match(lagging.stdout, new RegExp(`from seq ${size + 1} on`), 'it names the first uncovered seq')
  t.notMatch(lagging.stdout, /forged|FAILED/)

  // a change inside what the checkpoint covers is still a problem: exit 1
  const events = parseNdjson(exported)
  const first = events.find((event) => event.seq === 1)!
  first.location = 'elsewhere'
  writeFileSync(join(dir, 'changed.ndjson'), events.map((event) => JSON.stringify(event)).join('\n') + '\n')
  const changed = await run(['--export', join(dir, 'changed.ndjson'), '--checkpoint', join(dir, 'lagging.json'), '--keys', join(dir, 'keys.json')])
  t.same([changed.code, changed.stdout], [1, 'FAILED: modified at seq 1: the event differs from what was signed\n'])
})

t.test('the offline recipe of docs/integrity.md works when copied as written', async (t) => {
  const guide = readFileSync(new URL('../../docs/integrity.md', import.meta.url), 'utf8')
  const recipe = /<!-- offline-recipe -->\n```sh\n([\s\S]*?)```/.exec(guide)?.[1]
  t.ok(recipe, 'the guide has the recipe')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  // run where an auditor runs it, the project's folder (npm run resolves the files there); its three files go after
  const root = fileURLToPath(new URL('../..', import.meta.url))
  t.teardown(() => { for (const file of ['events.ndjson', 'checkpoint.json', 'keys.json']) rmSync(join(root, file), { force: true }) })
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', recipe!], {
    cwd: root,
    env: { ...process.env, BASE: base, TOKEN: reader }
  })
  t.match(stdout, /^verified \d+ events, tree size \d+, root [0-9a-f]{64}/m, 'the log verifies from the files')
})
