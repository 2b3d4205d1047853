import { parseWitnessKey } from '../../../../verifier/cosignature.js'
import { NoteError, type VerifierKey } from '../../../../verifier/signed-note.js'

/** A witness the operator configured: where to reach it and the key its cosignatures must verify with. */
export interface Witness {
  /** The key name: what cosignature lines, metrics and readiness call it. */
  name: string
  /** The submission prefix, without a trailing slash: add-checkpoint is `${url}/add-checkpoint`. */
  url: string
  key: VerifierKey
  vkey: string
}

export class WitnessConfigError extends Error {
  override name = 'WitnessConfigError'
}

/**
 * WITNESSES: a JSON array of `{"url", "vkey"}`. Every entry is checked at boot, so a typo stops the service
 * instead of leaving checkpoints silently unwitnessed: the vkey must be a C2SP cosignature/v1 key, the URL https
 * (plain http only to a host in WITNESS_ALLOW_HOSTS, for tests and witnesses inside the cluster), two entries
 * may not share a name (their cosignatures could not be told apart).
 */
export function parseWitnesses (json: string, allowHosts: string): Witness[] {
  let entries: unknown
  try {
    entries = JSON.parse(json === '' ? '[]' : json)
  } catch {
    throw new WitnessConfigError('WITNESSES must be a JSON array of {"url", "vkey"}')
  }
  if (!Array.isArray(entries)) throw new WitnessConfigError('WITNESSES must be a JSON array of {"url", "vkey"}')
  const allowed = new Set(allowHosts.split(',').map((host) => host.trim().toLowerCase()).filter((host) => host !== ''))
  const witnesses = entries.map((entry: unknown, i): Witness => {
    const { url, vkey, ...rest } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>
    if (typeof url !== 'string' || typeof vkey !== 'string' || Object.keys(rest).length > 0) {
      throw new WitnessConfigError(`WITNESSES[${i}] must be {"url": string, "vkey": string} and nothing else`)
    }
    let key: VerifierKey
    try {
      key = parseWitnessKey(vkey)
    } catch (err) {
      if (err instanceof NoteError) throw new WitnessConfigError(`WITNESSES[${i}].vkey: ${err.message}`)
      throw err
    }
    return { name: key.name, url: checkedUrl(url, allowed, i), key, vkey }
  })
  const names = witnesses.map((witness) => witness.name)
  const twice = names.find((name, i) => names.indexOf(name) !== i)
  if (twice !== undefined) throw new WitnessConfigError(`WITNESSES names the witness ${twice} twice`)
  return witnesses
}

/**
 * WITNESS_QUORUM: how many of the configured witnesses must cosign a checkpoint before it is served as witnessed;
 * 0 (the default) means all of them.
 */
export function quorumOf (configured: number, witnesses: Witness[]): number {
  if (configured > witnesses.length) {
    throw new WitnessConfigError(`WITNESS_QUORUM is ${configured}, but WITNESSES names only ${witnesses.length} witness(es)`)
  }
  return configured === 0 ? witnesses.length : configured
}

function checkedUrl (text: string, allowed: Set<string>, i: number): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new WitnessConfigError(`WITNESSES[${i}].url is not a URL`)
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowed.has(host))) {
    throw new WitnessConfigError(`WITNESSES[${i}].url must be https (plain http only to a host in WITNESS_ALLOW_HOSTS)`)
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new WitnessConfigError(`WITNESSES[${i}].url must be a plain prefix (no credentials, query or fragment)`)
  }
  return url.href.replace(/\/+$/, '')
}
