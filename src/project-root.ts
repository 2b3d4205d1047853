import { existsSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/**
 * The repository (or image) root: the first folder above `from` that holds package.json, passing over `dist`.
 * The compiled build has a package.json of its own (tsc copies it there: the swagger wrapper imports it for the
 * API's version), and taken for the root it sent `npm start` looking for .tools/ and ui/static/ inside dist/.
 */
export function projectRoot (from: string): string {
  let dir = from
  while (!existsSync(join(dir, 'package.json')) || basename(dir) === 'dist') {
    const parent = dirname(dir)
    if (parent === dir) return process.cwd()
    dir = parent
  }
  return dir
}
