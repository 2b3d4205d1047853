import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../src/embedded/ferretdb.js'
import { ed25519VerifierKey, formatVerifierKey } from '../src/verifier/signed-note.js'

/** scripts/litewitness.sh, which installs, starts and stops the witness; this file is its front for TypeScript callers. */
export const LITEWITNESS_SCRIPT = join(import.meta.dirname, 'litewitness.sh')

/** A litewitness (filippo.io/torchwood) running on loopback, with its key in an ssh-agent of its own. */
export interface Litewitness {
  /** Where it listens, as WITNESSES takes it: plain http to 127.0.0.1. */
  url: string
  /** Its verifier key, as WITNESSES and a witness policy take it. */
  vkey: string
  /** Its files: the key, the agent's socket, its database (witness.db, which witnessctl reads). */
  dir: string
  /** Tells it the log `origin`, whose checkpoints are signed by this raw Ed25519 public key (witnessctl add-log). */
  addLog: (origin: string, publicKey: Buffer) => void
  /** Stops the witness and its agent, and removes its files. */
  stop: () => void
}

/** Starts a litewitness named `name` (installed first with `scripts/litewitness.sh install`, which needs Go). */
export async function startLitewitness (name: string): Promise<Litewitness> {
  const dir = mkdtempSync(join(tmpdir(), 'litewitness-'))
  const address = `127.0.0.1:${await freePort()}`
  const vkey = execFileSync('bash', [LITEWITNESS_SCRIPT, 'start', dir, address, name], { encoding: 'utf8' }).trim()
  return {
    url: `http://${address}`,
    vkey,
    dir,
    addLog: (origin, publicKey) => {
      const logKey = formatVerifierKey(ed25519VerifierKey(origin, publicKey))
      execFileSync('bash', [LITEWITNESS_SCRIPT, 'add-log', dir, origin, logKey], { stdio: 'pipe' })
    },
    stop: () => {
      spawnSync('bash', [LITEWITNESS_SCRIPT, 'stop', dir])
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
