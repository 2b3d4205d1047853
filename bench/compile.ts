import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { PROJECT_ROOT } from './service.js'

/**
 * Compiles this checkout's service with tsc, as `npm run build` does, into node_modules/.cache (ignored by git
 * and eslint, and node_modules resolves from there); returns the server.js to run.
 */
export function compileService (log: (line: string) => void): string {
  const outDir = join(PROJECT_ROOT, 'node_modules', '.cache', 'audit-log-bench', 'dist')
  log(`compiling the service into ${outDir}`)
  execFileSync(
    process.execPath,
    [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
    { cwd: PROJECT_ROOT, stdio: 'inherit' }
  )
  return join(outDir, 'src', 'server.js')
}
