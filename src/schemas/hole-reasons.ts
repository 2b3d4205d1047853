/**
 * Why a seq has no event: a code of the contract (SeqHole.reason), written by the sequencer. Only the service
 * writes these, so a seq that is neither an event nor a recorded hole is evidence that an event was removed
 * outside the service.
 */
export const HOLE_REASONS = {
  duplicate_event_id: 'reserved for an event whose event_id was already stored (a retry): nothing was stored under it',
  write_not_completed: 'reserved for a write that did not complete (the service stopped or lost the database): nothing was stored under it',
  seq_taken:
    'reserved for an event that found its seq already taken by an event the service did not write there; the event was written under another seq',
  lost_from_database:
    'a seq the signer had already handed out in a receipt, missing from the database when the service next claimed (a restore from backup, a truncation): ' +
    'the service went on above it; whatever event the receipt names is evidence of what was lost here',
  reserved_by_signer:
    'a seq of a block the signer had reserved for receipts (its record is flushed once per block, not per write) whose replica stopped without ' +
    'releasing it before any claim reached the seq: nothing was stored under it, and a receipt naming it is evidence of what the database lost'
} as const
export type HoleReason = keyof typeof HOLE_REASONS
