import { checkSigned, type PublishedKey, type SignatureCheck } from './checkpoint.js'
import { leafHash, LeafError, type EventForLeaf } from './leaf.js'
import { hashLeaf, rootAndPaths, rootFromInclusion } from './merkle.js'

/**
 * A signed receipt: the service's promise, made when it stored the event, that the tenant's log holds this
 * leaf at this seq. The signature is over a small Merkle tree (RFC 9162 hashing) of the receipt statements
 * of one tenant in one bulk write: one signature serves every event of that write, and each receipt carries
 * its statement's index and inclusion path.
 */
export interface Receipt {
  tenant: string
  seq: number
  /** The event's leaf hash, lowercase hex (docs/integrity.md, "The leaf format"). */
  leaf_hash: string
  /** The event's `timestamp`: when the service received it, RFC 3339 exactly as signed. */
  timestamp: string
  /** Statements in the signed batch, and this one's place among them (0-based). */
  batch_size: number
  batch_index: number
  /** The statement's inclusion path to the batch root, lowercase hex, deepest sibling first. */
  batch_path: string[]
  key_id: string
  /** Ed25519 over receiptBatchMessage, base64. */
  signature: string
}

export type ReceiptStatement = Pick<Receipt, 'tenant' | 'seq' | 'leaf_hash' | 'timestamp'>

/**
 * A statement, the leaf of the batch tree: the UTF-8 of five lines, each ending in "\n": `audit-log receipt v1`,
 * the tenant, the seq in decimal, the leaf hash in lowercase hex, and the timestamp exactly as given. Its hash
 * in the batch tree is RFC 9162's leaf hash, SHA-256(0x00 || statement).
 */
export function receiptStatement ({ tenant, seq, leaf_hash: leafHash, timestamp }: ReceiptStatement): Buffer {
  return Buffer.from(`audit-log receipt v1\n${tenant}\n${seq}\n${leafHash}\n${timestamp}\n`)
}

/**
 * The bytes the Ed25519 signature covers: the UTF-8 of four lines, each ending in "\n": `audit-log receipt
 * batch v1`, the tenant, the batch size in decimal, and the batch root in lowercase hex. The first line keeps
 * it apart from every other message the key signs (a checkpoint, a horizon). The key_id is not signed.
 */
export function receiptBatchMessage (tenant: string, size: number, root: Buffer): Buffer {
  return Buffer.from(`audit-log receipt batch v1\n${tenant}\n${size}\n${root.toString('hex')}\n`)
}

/** The receipts of one tenant's statements, in order, under one signature made by `sign`. */
export function signReceipts (
  statements: ReceiptStatement[],
  keyId: string,
  sign: (message: Buffer) => string
): Receipt[] {
  const tenant = statements[0]?.tenant
  if (tenant === undefined) return []
  if (statements.some((statement) => statement.tenant !== tenant)) throw new Error('one batch of receipts is of one tenant')
  const { root, paths } = rootAndPaths(statements.map((statement) => hashLeaf(receiptStatement(statement))))
  const signature = sign(receiptBatchMessage(tenant, statements.length, root))
  return statements.map((statement, i) => ({
    ...statement,
    batch_size: statements.length,
    batch_index: i,
    batch_path: (paths[i] as Buffer[]).map((hash) => hash.toString('hex')),
    key_id: keyId,
    signature
  }))
}

export type ReceiptSignatureCheck = SignatureCheck | 'bad path'

/** Whether the receipt was signed by a published key: its statement and path make a batch root, and the signature covers it. */
export function checkReceiptSignature (receipt: Receipt, keys: PublishedKey[]): ReceiptSignatureCheck {
  if (!receiptShape(receipt)) return 'bad path'
  const root = rootFromInclusion(
    receipt.batch_index,
    receipt.batch_size,
    hashLeaf(receiptStatement(receipt)),
    receipt.batch_path.map((hash) => Buffer.from(hash, 'hex'))
  )
  if (root === undefined) return 'bad path'
  return checkSigned(receiptBatchMessage(receipt.tenant, receipt.batch_size, root), receipt, keys)
}

/** What a log must answer for each kept receipt: the event at its seq, or the tree's leaf there. */
export interface LogForReceipts {
  /** The tenant's events by seq, with the leaf hash recomputed from each (never its stored `hash`). */
  leaves: Map<number, string>
  /** Online: the tree's leaf hashes 1..n (its tiles): they answer for seqs expired by policy. */
  treeLeaves?: Buffer[]
  /** Seqs below this were expired by a signed retention horizon: no event is expected there. */
  expiredBelow?: number
}

/** The log as an export (and, online, the tree's tiles and the signed horizon) gives it: every leaf recomputed from its event. */
export function logForReceipts (events: EventForLeaf[], treeLeaves?: Buffer[], expiredBelow?: number): LogForReceipts {
  const leaves = new Map<number, string>()
  for (const event of events) {
    let leaf: string
    try {
      leaf = leafHash(event)
    } catch (err) {
      if (!(err instanceof LeafError)) throw err
      leaf = `none (${err.message})`
    }
    leaves.set(event.seq as number, leaf)
  }
  return { leaves, ...(treeLeaves === undefined ? {} : { treeLeaves }), ...(expiredBelow === undefined ? {} : { expiredBelow }) }
}

export type ReceiptProblemKind = 'receipt contradicted' | 'bad receipt'

export interface ReceiptProblem {
  kind: ReceiptProblemKind
  seq?: number
  /** Which receipt of the file (0-based). */
  index: number
  detail: string
}

/**
 * Checks kept receipts of one tenant against its log. A receipt not signed by a published key is no promise
 * (`bad receipt`). A signed one whose seq holds no event, or an event whose recomputed leaf differs, is
 * evidence that the log changed after the promise (`receipt contradicted`), whatever any later checkpoint
 * says: the operator can sign a rewritten history, not an older receipt.
 */
export function checkReceipts (receipts: Receipt[], tenant: string, log: LogForReceipts, keys: PublishedKey[]): ReceiptProblem[] {
  const problems: ReceiptProblem[] = []
  receipts.forEach((receipt, index) => {
    const seq = typeof receipt.seq === 'number' ? receipt.seq : undefined
    const fail = (kind: ReceiptProblemKind, detail: string) =>
      problems.push(seq === undefined ? { kind, index, detail } : { kind, seq, index, detail })
    const signature = checkReceiptSignature(receipt, keys)
    if (signature !== 'ok') {
      const why = {
        'bad path': 'its batch path does not make a batch root',
        'unknown key': `signed by key ${String(receipt.key_id)}, which is not among the keys`,
        'bad signature': 'its signature does not match'
      }[signature]
      return fail('bad receipt', `receipt ${index + 1}: ${why}`)
    }
    if (receipt.tenant !== tenant) return fail('bad receipt', `receipt ${index + 1} is of tenant ${receipt.tenant}, not ${tenant}`)
    const leaf = log.leaves.get(receipt.seq)
    if (leaf === undefined) {
      const treeLeaf = log.treeLeaves?.[receipt.seq - 1]?.toString('hex')
      if (receipt.seq < (log.expiredBelow ?? 1) && (treeLeaf === undefined || treeLeaf === receipt.leaf_hash)) return
      return fail(
        'receipt contradicted',
        `receipt ${index + 1} (signed by key ${receipt.key_id}) promised leaf ${receipt.leaf_hash} at this seq; the log has no event here`
      )
    }
    if (leaf !== receipt.leaf_hash) {
      fail(
        'receipt contradicted',
        `receipt ${index + 1} (signed by key ${receipt.key_id}) promised leaf ${receipt.leaf_hash}; the event the log holds here has leaf ${leaf}: it was changed after it was received`
      )
    }
  })
  return problems
}

/** Receipts as kept: a JSON array, or JSON lines, of the receipt objects as the API returned them. */
export function parseReceipts (text: string): Receipt[] {
  const trimmed = text.trim()
  if (trimmed === '') return []
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as Receipt[]
  return trimmed.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Receipt)
}

const HEX64 = /^[0-9a-f]{64}$/

/** Fields of the types the signed bytes need, and a path no longer than any tree a number can index. */
function receiptShape (receipt: Receipt): boolean {
  return (
    typeof receipt.tenant === 'string' &&
    Number.isSafeInteger(receipt.seq) &&
    typeof receipt.leaf_hash === 'string' &&
    HEX64.test(receipt.leaf_hash) &&
    typeof receipt.timestamp === 'string' &&
    Number.isSafeInteger(receipt.batch_size) &&
    Number.isSafeInteger(receipt.batch_index) &&
    Array.isArray(receipt.batch_path) &&
    receipt.batch_path.length <= 64 &&
    receipt.batch_path.every((hash) => typeof hash === 'string' && HEX64.test(hash)) &&
    typeof receipt.key_id === 'string' &&
    typeof receipt.signature === 'string'
  )
}
