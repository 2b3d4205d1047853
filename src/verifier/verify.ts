import { checkSignature, checkSigned, type Checkpoint, type PublishedKey } from './checkpoint.js'
import { horizonMessage, RETENTION_CHANGED, type SignedHorizon } from './horizon.js'
import { holeLeafHash, leafHash, LeafError, type EventForLeaf } from './leaf.js'
import { rootFromLeafHashes, verifyConsistency } from './merkle.js'
import { ERASURE_APPLIED, erasedWithoutRequest } from './erasure.js'

/** The kinds of problem the verifier names, with the seq it was found at when there is one. */
export type ProblemKind =
  | 'modified'
  | 'missing'
  | 'reordered'
  | 'forged'
  | 'bad signature'
  | 'truncated'
  | 'inconsistent with trusted checkpoint'
  | 'horizon not allowed by policy'
  | 'erased without a request'

export interface Problem {
  kind: ProblemKind
  seq?: number
  detail: string
}

export interface VerifyInput {
  /** The tenant's exported events, any order. */
  events: EventForLeaf[]
  checkpoint: Checkpoint
  keys: PublishedKey[]
  /** A checkpoint the auditor kept from earlier, outside the service. */
  trusted?: Checkpoint
  /** Leaf hashes 1..tree_size as the service's tree holds them (online: its tiles); offline they are taken from the events. */
  treeLeaves?: Buffer[]
  /** From the service, when online: the consistency proof from the trusted checkpoint's size to the checkpoint's. */
  consistencyProof?: Buffer[]
  /**
   * Online: every seq up to here was signed before the export began, so the export must hold it. A seq above
   * it (and above a trusted checkpoint's size) may be an event stored while the export ran: absent, it is not
   * missing, only not verified. Offline the export and the checkpoint must match exactly.
   */
  exportedThrough?: number
  /** The tenant's newest signed retention horizon: the seqs below it may be absent, expired by policy. */
  horizon?: SignedHorizon
}

export interface Verified {
  events: number
  holes: number
  erased: number
  /** Seqs below the retention horizon whose events are gone, expired by policy. */
  expired: number
  /**
   * Online: events the tree holds above what the export had to hold, stored while it ran (its own audit records
   * among them); not verified.
   */
  storedAfterExport: number
  treeSize: number
  root: string
  /**
   * Exported events above the checkpoint's tree: no signature covers them, so they are neither verified nor a
   * problem; a checkpoint taken after the export covers them (GET /integrity/checkpoint?min_tree_size=).
   */
  uncovered?: { first: number, last: number, count: number }
  /** The signed horizon accepted, and whether the log still holds the policy change it was made under. */
  horizon?: SignedHorizon & { policy: 'in the log' | 'not in the log' }
}

export type VerifyResult = { ok: true, verified: Verified } | { ok: false, problem: Problem }

/**
 * Checks a tenant's exported log against a signed checkpoint, imports nothing of the service's: the
 * signature; a kept checkpoint against this one (never smaller, and consistent); a retention horizon's
 * signature and the policy it claims; then every seq 1..tree_size: an event whose recomputed leaf is the
 * tree's leaf, a hole whose leaf is the filler, or, below the horizon, nothing (expired by policy; the
 * tree keeps its leaf, so the root still checks). The first problem, in this order and then by seq, is
 * the answer.
 */
export function verifyLog (input: VerifyInput): VerifyResult {
  const { checkpoint, keys, trusted } = input
  const signature = checkSignature(checkpoint, keys)
  if (signature !== 'ok') {
    return fail(
      'bad signature',
      `the checkpoint of tree size ${checkpoint.tree_size}: ${signature === 'unknown key' ? `signed by key ${checkpoint.key_id}, which is not among the keys` : 'its signature does not match'}`
    )
  }
  if (trusted !== undefined) {
    const trustedSignature = checkSignature(trusted, keys)
    if (trustedSignature !== 'ok') return fail('bad signature', `the trusted checkpoint: ${trustedSignature}`)
    if (trusted.tenant !== checkpoint.tenant) { return fail('inconsistent with trusted checkpoint', `the trusted checkpoint is of tenant ${trusted.tenant}, not ${checkpoint.tenant}`) }
    if (trusted.tree_size > checkpoint.tree_size) {
      return fail(
        'truncated',
        `the log's tree has ${checkpoint.tree_size} leaves, fewer than the ${trusted.tree_size} of the trusted checkpoint: seqs ${checkpoint.tree_size + 1}..${trusted.tree_size} were cut off`,
        checkpoint.tree_size + 1
      )
    }
    if (
      input.consistencyProof !== undefined &&
      !verifyConsistency(trusted.tree_size, checkpoint.tree_size, hex(trusted.root_hash), hex(checkpoint.root_hash), input.consistencyProof)
    ) {
      return fail(
        'inconsistent with trusted checkpoint',
        `the service's consistency proof from tree size ${trusted.tree_size} to ${checkpoint.tree_size} does not hold`
      )
    }
  }

  const size = checkpoint.tree_size
  const horizon = input.horizon
  if (horizon !== undefined) {
    const horizonSignature = checkSigned(horizonMessage(horizon), horizon, keys)
    if (horizonSignature !== 'ok') {
      return fail(
        'bad signature',
        `the retention horizon at seq ${horizon.horizon}: ${horizonSignature === 'unknown key' ? `signed by key ${horizon.key_id}, which is not among the keys` : 'its signature does not match'}`
      )
    }
    if (horizon.tenant !== checkpoint.tenant) { return fail('forged', `the retention horizon is of tenant ${horizon.tenant}, not ${checkpoint.tenant}`) }
    if (horizon.horizon > size + 1) { return fail('forged', `the retention horizon at seq ${horizon.horizon} is beyond the checkpoint's tree (size ${size})`) }
  }
  const expiredBelow = horizon?.horizon ?? 1
  const bySeq = new Map<number, EventForLeaf>()
  const uncovered: number[] = []
  for (const event of input.events) {
    const seq = event.seq as number
    if (event.tenant !== checkpoint.tenant) { return fail('forged', `an event of tenant ${String(event.tenant)} in the log of ${checkpoint.tenant}`, seq) }
    if (bySeq.has(seq)) return fail('forged', 'two events have this seq', seq)
    // beyond what the checkpoint signed: not evidence either way (the checkpoint may only lag the export); said, and left out
    if (seq > size) {
      uncovered.push(seq)
      continue
    }
    bySeq.set(seq, event)
  }
  const recomputed = new Map<number, string>()
  for (const [seq, event] of bySeq) {
    try {
      recomputed.set(seq, leafHash(event))
    } catch (err) {
      if (err instanceof LeafError) return fail('modified', err.message, seq)
      throw err
    }
  }

  // offline, the tree's leaves are the events' own hashes (fillers where none): authentic only if they make the signed root
  const claimed =
    input.treeLeaves ??
    Array.from({ length: size }, (_, i) =>
      hex((bySeq.get(i + 1)?.hash as string | undefined) ?? recomputed.get(i + 1) ?? holeLeafHash(checkpoint.tenant, i + 1))
    )
  const authentic = rootFromLeafHashes(claimed).equals(hex(checkpoint.root_hash))
  if (input.treeLeaves !== undefined && !authentic) { return fail('forged', "the service's tree does not make the signed root: it was rebuilt without the key") }
  if (trusted !== undefined && authentic && !rootFromLeafHashes(claimed.slice(0, trusted.tree_size)).equals(hex(trusted.root_hash))) {
    return fail('inconsistent with trusted checkpoint', `the first ${trusted.tree_size} leaves do not make the trusted checkpoint's root`)
  }

  const mustHold = input.exportedThrough === undefined ? size : Math.max(input.exportedThrough, trusted?.tree_size ?? 0)
  const problem = compare(checkpoint.tenant, size, bySeq, recomputed, claimed, mustHold, expiredBelow)
  if (problem !== undefined) return { ok: false, problem }
  let holes = 0
  let expired = 0
  let storedAfterExport = 0
  let firstAbsent: number | undefined
  for (let seq = 1; seq <= size; seq++) {
    if (bySeq.has(seq)) continue
    if (seq < expiredBelow) expired++
    else if (claimed[seq - 1]?.toString('hex') === holeLeafHash(checkpoint.tenant, seq)) holes++
    else storedAfterExport++
    firstAbsent ??= seq
  }
  if (!authentic && firstAbsent !== undefined && firstAbsent < expiredBelow) {
    return fail(
      'missing',
      "expired by policy, and the export alone cannot make the signed root without the expired events' leaves: verify online, where the tree's tiles hold them",
      firstAbsent
    )
  }
  if (!authentic && firstAbsent !== undefined) { return fail('missing', `no event here, and the log does not make the signed root without one${offlineNote()}`, firstAbsent) }
  if (!authentic) { return fail('forged', "the events' hashes do not make the signed root: the log was rewritten (verify online to locate it)") }
  let accepted: Verified['horizon']
  if (horizon?.policy_seq !== undefined) {
    const problem = policyEntryProblem(bySeq, horizon, horizon.policy_seq)
    if (problem !== undefined) return fail('horizon not allowed by policy', problem, horizon.horizon)
    accepted = { ...horizon, policy: 'in the log' }
  } else if (horizon !== undefined) {
    const policy = policyInForce(bySeq.values(), horizon)
    if (policy !== undefined && keptDays(horizon.days) < keptDays(policy.days)) {
      return fail(
        'horizon not allowed by policy',
        `seqs below ${horizon.horizon} were expired at ${horizon.expired_at} under ${horizon.days} days, but the policy then was ${policy.days === 0 ? 'to keep events forever' : `${policy.days} days`} (set at seq ${policy.seq})`,
        horizon.horizon
      )
    }
    accepted = { ...horizon, policy: policy === undefined ? 'not in the log' : 'in the log' }
  }
  // an erasure entry above the checkpoint's tree (an erasure running as the export was taken) is not evidence, but
  // it is no forgery either: the log is then only not covered yet (uncovered, below), never verified as it stands
  const unrequested = erasedWithoutRequest(bySeq.values())
  const coveredLater = unrequested !== undefined && uncovered.length > 0 &&
    erasedWithoutRequest([...bySeq.values(), ...input.events.filter((event) => (event.seq as number) > size)]) === undefined
  if (unrequested !== undefined && !coveredLater) {
    return fail(
      'erased without a request',
      `${unrequested.path} is erased, but no erasure entry of the log (${ERASURE_APPLIED}) names it: nulled through the database`,
      unrequested.seq
    )
  }
  const erased = [...bySeq.values()].filter((event) => (event.erased?.length ?? 0) > 0).length
  return {
    ok: true,
    verified: {
      events: bySeq.size,
      holes,
      erased,
      expired,
      storedAfterExport,
      treeSize: size,
      root: checkpoint.root_hash,
      ...(accepted === undefined ? {} : { horizon: accepted }),
      ...(uncovered.length === 0
        ? {}
        : { uncovered: { first: Math.min(...uncovered), last: Math.max(...uncovered), count: uncovered.length } })
    }
  }
}

/**
 * What is wrong with a v2 horizon's policy entry, or undefined when it justifies the horizon: the export holds
 * the entry it names, above the horizon (a policy's entry never expires under it: the service restates it
 * first), a retention entry of the horizon's days, recorded no later than the horizon was made, give or take
 * POLICY_RECORD_SLACK_MS of clock skew between replicas (a horizon earlier than its policy was justified too
 * early), no legal hold the log says was active then, and not superseded by a longer policy recorded more than
 * POLICY_RECORD_SLACK_MS before the horizon was made (a sweep started under the older one may end after it).
 */
function policyEntryProblem (bySeq: Map<number, EventForLeaf>, horizon: SignedHorizon, policySeq: number): string | undefined {
  const named = `the horizon at seq ${horizon.horizon} (expired at ${horizon.expired_at} under ${horizon.days} days) names the policy entry at seq ${policySeq}`
  if (policySeq < horizon.horizon) return `${named}, below the horizon: a policy's entry is never expired under it`
  const entry = bySeq.get(policySeq)
  if (entry === undefined) return `${named}, which the export does not hold (if it was stored while the export ran, verify again)`
  const days = (entry.event_specificdetails as { days?: unknown } | undefined)?.days
  if (entry.event_type !== RETENTION_CHANGED || days !== horizon.days) {
    return `${named}, which is ${entry.event_type === RETENTION_CHANGED ? `a policy of ${String(days)} days` : `a ${String(entry.event_type)} event`}`
  }
  const expiredAt = Date.parse(horizon.expired_at)
  const recordedAt = Date.parse(String(entry.timestamp))
  // a minute's grace: the entry's receipt time is one replica's clock, the horizon's time another's
  if (!(recordedAt <= expiredAt + POLICY_RECORD_SLACK_MS)) {
    return `${named}, recorded at ${String(entry.timestamp)}: after the events were expired under it`
  }
  const longer = [...bySeq.values()].find((event) => {
    const later = event.event_specificdetails as { days?: unknown } | undefined
    return event.event_type === RETENTION_CHANGED && (event.seq as number) > policySeq && typeof later?.days === 'number' &&
      Date.parse(String(event.timestamp)) < expiredAt - POLICY_RECORD_SLACK_MS && keptDays(later.days) > keptDays(horizon.days)
  })
  if (longer !== undefined) {
    const longerDays = (longer.event_specificdetails as { days: number }).days
    return `${named}, but the policy was ${longerDays === 0 ? 'to keep events forever' : `${longerDays} days`} from seq ${String(longer.seq)} on`
  }
  // a hold the log says was active then: lifted only in the database (a lift is an entry of the log)
  const hold = [...bySeq.values()]
    .filter((event) => HOLD_STEPS.includes(String(event.event_type)) && Date.parse(String(event.timestamp)) <= expiredAt)
    .sort((a, b) => (a.seq as number) - (b.seq as number))
    .at(-1)
  if (hold?.event_type === LEGAL_HOLD_SET) return `${named}, but the log's legal hold set at seq ${String(hold.seq)} was not lifted then`
  return undefined
}
const LEGAL_HOLD_SET = 'audit.admin.legal_hold_set'
const HOLD_STEPS = [LEGAL_HOLD_SET, 'audit.admin.legal_hold_lifted']

/**
 * The retention policy a horizon was made under, as the log itself recorded it: the days of the last
 * policy change stored before the horizon was, or undefined when the log holds none (the operator's
 * default applied, or the change itself expired). A change is recorded just after it takes effect, so
 * one recorded up to POLICY_RECORD_SLACK_MS after the horizon may be the one the sweeper used: the
 * shortest of those is taken, so that a horizon is refused only when no recorded policy allows it.
 */
function policyInForce (events: Iterable<EventForLeaf>, horizon: SignedHorizon): { days: number, seq: number } | undefined {
  const expiredAt = Date.parse(horizon.expired_at)
  const changes = [...events]
    .filter(
      (event) =>
        event.event_type === RETENTION_CHANGED && typeof (event.event_specificdetails as { days?: unknown } | undefined)?.days === 'number'
    )
    .map((event) => ({
      at: Date.parse(String(event.timestamp)),
      seq: event.seq as number,
      days: (event.event_specificdetails as { days: number }).days
    }))
    .sort((a, b) => a.seq - b.seq)
  const before = changes.filter((change) => change.at <= expiredAt).at(-1)
  const candidates = [
    ...(before === undefined ? [] : [before]),
    ...changes.filter((change) => change.at > expiredAt && change.at <= expiredAt + POLICY_RECORD_SLACK_MS)
  ]
  if (candidates.length === 0) return undefined
  return candidates.reduce((shortest, change) => keptDays(change.days) < keptDays(shortest.days) ? change : shortest)
}
const POLICY_RECORD_SLACK_MS = 60_000

/** How long a policy keeps events: 0 days is forever, which no horizon is within. */
function keptDays (days: number): number {
  return days === 0 ? Number.POSITIVE_INFINITY : days
}

/** Seq by seq, against the tree's leaves: the first event or hole that does not match, and what it looks like. */
function compare (
  tenant: string,
  size: number,
  bySeq: Map<number, EventForLeaf>,
  recomputed: Map<number, string>,
  tree: Buffer[],
  mustHold: number,
  expiredBelow: number
): Problem | undefined {
  const treeLeaf = (seq: number) => (tree[seq - 1] as Buffer).toString('hex')
  const mismatched = [...recomputed].filter(([seq, leaf]) => leaf !== treeLeaf(seq)).map(([seq]) => seq)
  for (let seq = 1; seq <= size; seq++) {
    const event = bySeq.get(seq)
    const filler = holeLeafHash(tenant, seq)
    if (event === undefined) {
      if (treeLeaf(seq) !== filler && seq <= mustHold && seq >= expiredBelow) { return { kind: 'missing', seq, detail: 'the tree has an event here and the log has none: it was deleted' } }
      continue
    }
    if (recomputed.get(seq) === treeLeaf(seq)) continue
    if (treeLeaf(seq) === filler) return { kind: 'forged', seq, detail: 'an event where the service recorded no event (a hole)' }
    // moved: its leaf at another seq is the tree's leaf there, or (offline) the hash it was stored with
    const elsewhere = mismatched.find(
      (other) => other !== seq && [treeLeaf(other), event.hash].includes(leafHash({ ...event, seq: other }))
    )
    if (elsewhere !== undefined) return { kind: 'reordered', seq, detail: `this event belongs at seq ${elsewhere}` }
    return { kind: 'modified', seq, detail: 'the event differs from what was signed' }
  }
  return undefined
}

function offlineNote (): string {
  return ' (offline: the first seq without an event; the export alone cannot tell a deleted event from a recorded hole, so verify online to be exact)'
}

function fail (kind: ProblemKind, detail: string, seq?: number): VerifyResult {
  return { ok: false, problem: seq === undefined ? { kind, detail } : { kind, seq, detail } }
}

function hex (text: string): Buffer {
  return Buffer.from(text, 'hex')
}
