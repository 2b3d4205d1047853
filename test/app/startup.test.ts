import t from 'tap'
import { spawn } from 'node:child_process'
import { freePort } from '../../src/embedded/ferretdb.js'

/** Runs the real server entry point and returns its exit code and what it wrote to stderr. */
async function runServer (env: Record<string, string>): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearTimeout(timer)
  return { code, stderr }
}

t.test('an invalid variable stops the process with one line naming it', async (t) => {
  const { code, stderr } = await runServer({ PORT: 'not-a-port', MONGODB_URL: 'mongodb://127.0.0.1:1', JWT_SECRET: 'x'.repeat(32) })
  t.equal(code, 1)
  t.equal(stderr.trim(), 'Invalid configuration: PORT must be integer')
})

t.test('an unreachable database stops the process with a clear line, after DB_TIMEOUT_MS', async (t) => {
  const closedPort = await freePort()
  const { code, stderr } = await runServer({
    MONGODB_URL: `mongodb://user:hunter2@127.0.0.1:${closedPort}/`,
    JWT_SECRET: 'x'.repeat(32),
    DB_TIMEOUT_MS: '500',
    PORT: String(await freePort())
  })
  t.equal(code, 1)
  t.match(stderr, /^Cannot start: .*\(database mongodb:\/\/\*\*\*@127\.0\.0\.1:\d+\/\)\n$/)
  t.notMatch(stderr, /hunter2/, 'credentials are not printed')
})
