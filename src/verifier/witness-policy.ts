import type { Checkpoint } from './checkpoint.js'
import { findCosignature, parseWitnessKey } from './cosignature.js'
import { NoteError, parseNote, type VerifierKey } from './signed-note.js'

/**
 * Which witnesses an auditor trusts, and how many of them must have cosigned a checkpoint before it counts
 * (`npm run verify -- --witness-policy FILE`). The file is JSON, the same entries as the service's WITNESSES:
 *
 *   {"witnesses": [{"vkey": "witness.example/w1+658d5487+BOPa…"}, {"vkey": "…", "url": "ignored here"}], "quorum": 2}
 *
 * `quorum` defaults to every listed witness. The policy is the auditor's, not the service's: the service's
 * WITNESS_QUORUM only decides what it calls witnessed.
 */
export interface WitnessPolicy {
  witnesses: VerifierKey[]
  quorum: number
}

export class PolicyError extends Error {
  override name = 'PolicyError'
}

export function parseWitnessPolicy (json: string): WitnessPolicy {
  let policy: unknown
  try {
    policy = JSON.parse(json)
  } catch {
    throw new PolicyError('a witness policy is JSON: {"witnesses": [{"vkey": "..."}], "quorum": k}')
  }
  const { witnesses, quorum } = (typeof policy === 'object' && policy !== null ? policy : {}) as Record<string, unknown>
  if (!Array.isArray(witnesses) || witnesses.length === 0) throw new PolicyError('a witness policy lists at least one witness: {"witnesses": [{"vkey": "..."}]}')
  const keys = witnesses.map((entry: unknown, i) => {
    const vkey = (typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).vkey : undefined)
    if (typeof vkey !== 'string') throw new PolicyError(`witnesses[${i}] has no "vkey" string`)
    try {
      return parseWitnessKey(vkey)
    } catch (err) {
      if (err instanceof NoteError) throw new PolicyError(`witnesses[${i}].vkey: ${err.message}`)
      throw err
    }
  })
  if (new Set(keys.map((key) => key.name)).size !== keys.length) throw new PolicyError('a witness policy names each witness once')
  const k = quorum === undefined ? keys.length : quorum
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > keys.length) {
    throw new PolicyError(`quorum must be an integer from 1 to the number of witnesses (${keys.length})`)
  }
  return { witnesses: keys, quorum: k }
}

export interface PolicyCheck {
  ok: boolean
  /** The policy's witnesses whose valid cosignature the checkpoint's note carries, with when they signed. */
  cosigners: Array<{ witness: string, timestamp: string }>
  detail: string
}

/**
 * Whether the checkpoint's note carries valid cosignatures (C2SP cosignature/v1 over its text) of at least
 * `quorum` of the policy's witnesses. Lines of other keys are ignored; a checkpoint without a note (the first
 * format) cannot be witnessed.
 */
export function checkWitnessPolicy (checkpoint: Checkpoint, policy: WitnessPolicy): PolicyCheck {
  if (checkpoint.note === undefined) {
    return { ok: false, cosigners: [], detail: 'the checkpoint is not a C2SP note (signed before the service spoke C2SP): no witness cosigned it' }
  }
  let note
  try {
    note = parseNote(checkpoint.note)
  } catch (err) {
    if (err instanceof NoteError) return { ok: false, cosigners: [], detail: `its note is malformed: ${err.message}` }
    throw err
  }
  const cosigners = policy.witnesses.flatMap((key) => {
    const found = findCosignature(note.text, note.signatures, key)
    return found === undefined ? [] : [{ witness: key.name, timestamp: new Date(found.timestamp * 1000).toISOString() }]
  })
  const names = cosigners.map((cosigner) => `${cosigner.witness} at ${cosigner.timestamp}`).join(', ')
  const ok = cosigners.length >= policy.quorum
  const detail = `${cosigners.length} of the policy's ${policy.witnesses.length} witnesses cosigned tree size ${checkpoint.tree_size}` +
    `${names === '' ? '' : ` (${names})`}; the quorum is ${policy.quorum}`
  return { ok, cosigners, detail }
}
