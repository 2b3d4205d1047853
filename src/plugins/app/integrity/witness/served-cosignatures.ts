import type { Checkpoint } from '../../../../verifier/checkpoint.js'
import { findCosignature } from '../../../../verifier/cosignature.js'
import { formatSignatureLine, NoteError, parseNote } from '../../../../verifier/signed-note.js'
import { formatCheckpointText, parseCheckpointText } from '../../../../verifier/tlog-checkpoint.js'
import type { WitnessHead } from './witness-heads.js'
import type { Witness } from './witness-list.js'

/** A checkpoint that can be witnessed: signed as a C2SP note (checkpoints of the first format cannot). */
export type NotedCheckpoint = Checkpoint & { note: string }

/** A checkpoint as served: the note with the witnesses' cosignatures appended, and whether they make the quorum. */
export interface WitnessedCheckpoint {
  note: string
  witnessed: boolean
  cosignatures: Array<{ witness: string, timestamp: string }>
}

/**
 * The note with the stored cosignatures that verify, each against its witness's configured key over this very note's
 * text (the database is not trusted for them: a head of another root, or a line no witness key verifies, is left
 * out), and whether they reach the quorum.
 */
export function withVerifiedCosignatures (
  checkpoint: NotedCheckpoint,
  heads: WitnessHead[],
  witnesses: Witness[],
  quorum: number
): WitnessedCheckpoint {
  let text: string
  try {
    text = parseNote(checkpoint.note).text
  } catch (err) {
    if (err instanceof NoteError) return { note: checkpoint.note, witnessed: false, cosignatures: [] }
    throw err
  }
  const lines: string[] = []
  const cosignatures: WitnessedCheckpoint['cosignatures'] = []
  for (const witness of witnesses) {
    const found = heads
      .filter((head) => head.witness === witness.name && head.root === checkpoint.root_hash)
      .map((head) => cosignatureIn(text, head, witness))
      .find((line) => line !== undefined)
    if (found === undefined) continue
    lines.push(found.line)
    cosignatures.push({ witness: witness.name, timestamp: new Date(found.timestamp * 1000).toISOString() })
  }
  return { note: checkpoint.note + lines.join(''), witnessed: quorum > 0 && cosignatures.length >= quorum, cosignatures }
}

/** The origin line of a signed note, if it is one. */
export function originOf (note: string): string | undefined {
  try {
    return parseCheckpointText(parseNote(note).text).origin
  } catch (err) {
    if (err instanceof NoteError) return undefined
    throw err
  }
}

/** Whether a stored head's cosignature is its witness's, over the checkpoint of the head's size and root. */
export function headVerifies (origin: string, head: WitnessHead, witness: Witness): boolean {
  const text = formatCheckpointText({ origin, size: head.size, root: Buffer.from(head.root, 'hex') })
  return cosignatureIn(text, head, witness) !== undefined
}

function cosignatureIn (text: string, head: WitnessHead, witness: Witness): { line: string, timestamp: number } | undefined {
  try {
    const found = findCosignature(text, parseNote(text + '\n' + head.cosignature).signatures, witness.key)
    return found === undefined ? undefined : { line: formatSignatureLine(found.signature), timestamp: found.timestamp }
  } catch (err) {
    if (err instanceof NoteError) return undefined
    throw err
  }
}
