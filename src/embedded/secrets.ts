import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * A secret kept in a file readable by its owner only (mode 0600): created once with `make`, then read
 * back on every start so that tokens and the bootstrap password survive restarts of the embedded default.
 */
export function readOrCreateSecretFile (
  path: string,
  make: () => string = () => randomBytes(48).toString('base64url')
): { value: string; created: boolean } {
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), created: false }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const value = make()
  writeFileSync(path, value + '\n', { mode: 0o600, flag: 'wx' })
  return { value, created: true }
}
