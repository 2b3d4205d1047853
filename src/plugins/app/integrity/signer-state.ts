import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * What the signer remembers, outside the database, with the key's custody: per log (database and tenant) the
 * newest checkpoint it signed (size and root) and the highest seq it handed out in a receipt. Whoever can
 * write the database but not this file cannot make the service sign a history that contradicts what it
 * signed before, nor give a receipted seq to another event.
 *
 * An append-only file of JSON lines, one fact each. Every replica that shares the signing key shares this
 * file (it lives beside the key by default): a replica reads what the others appended before it decides, and
 * decisions are taken one replica at a time under a lock file (`<file>.lock`, created exclusively), so no
 * replica signs a tree inconsistent with a checkpoint any of them signed. Each fact is flushed to disk (fsync)
 * before the signature or the receipt that relies on it is served. The file is compacted (rewritten with
 * the newest fact of each kind per log, then renamed into place) when it grows past COMPACT_BYTES.
 */
export interface SignedHead {
  size: number
  /** lowercase hex */
  root: string
}

export type SignerFact =
  | { kind: 'checkpoint', log: string, size: number, root: string, at: string }
  | { kind: 'receipts', log: string, through: number, at: string }

/** How long a lock may be held before another replica takes it as left by a dead process. */
const STALE_LOCK_MS = 10_000
const LOCK_RETRY_MS = 2
const COMPACT_BYTES = 1024 * 1024

export class SignerState {
  private signed = new Map<string, SignedHead>()
  private receipted = new Map<string, number>()
  /** The file as last read: its inode and how many bytes; a new inode (compacted) is read again whole. */
  private readInode = -1
  private readOffset = 0
  /** This process's turns: they queue here rather than poll the lock file against each other. */
  private turns: Promise<unknown> = Promise.resolve()

  constructor (readonly file: string, private readonly database: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    this.catchUp()
  }

  /** The newest checkpoint signed for the tenant's log, by any replica that shares this file. */
  lastSigned (tenant: string): SignedHead | undefined {
    this.catchUp()
    return this.signed.get(this.logOf(tenant))
  }

  /** The highest seq handed out in a receipt for the tenant's log (0 when none). */
  receiptedThrough (tenant: string): number {
    this.catchUp()
    return this.receipted.get(this.logOf(tenant)) ?? 0
  }

  /**
   * Runs `decide` alone among the replicas that share the file, after reading every fact appended before.
   * The facts it returns are written and flushed to disk before this resolves.
   */
  async exclusively<T> (decide: () => Promise<{ append: SignerFact[], result: T }>): Promise<T> {
    const turn = this.turns.catch(() => {}).then(async () => await this.decideLocked(decide))
    this.turns = turn
    return await turn
  }

  private async decideLocked<T> (decide: () => Promise<{ append: SignerFact[], result: T }>): Promise<T> {
    const release = await this.lock()
    try {
      this.catchUp()
      const { append, result } = await decide()
      if (append.length > 0) await this.append(append)
      return result
    } finally {
      release()
    }
  }

  /** The fact that the tenant's tree of `size` with `root` is signed: appended before the signature is served. */
  checkpointFact (tenant: string, head: SignedHead): SignerFact {
    return { kind: 'checkpoint', log: this.logOf(tenant), size: head.size, root: head.root, at: new Date().toISOString() }
  }

  /**
   * Makes sure the record covers receipts through `seq` before they are served. Concurrent callers share a
   * write: whoever takes the lock after a write that covers it writes nothing.
   */
  async coverReceipts (tenant: string, seq: number): Promise<void> {
    if (this.receiptedThrough(tenant) >= seq) return
    await this.exclusively(async () => {
      if (this.receiptedThrough(tenant) >= seq) return { append: [], result: undefined }
      return { append: [{ kind: 'receipts', log: this.logOf(tenant), through: seq, at: new Date().toISOString() }], result: undefined }
    })
  }

  private logOf (tenant: string): string {
    return `${this.database}/${tenant}`
  }

  private apply (fact: SignerFact): void {
    if (fact.kind === 'checkpoint') {
      const current = this.signed.get(fact.log)
      if (current === undefined || fact.size >= current.size) this.signed.set(fact.log, { size: fact.size, root: fact.root })
    } else {
      this.receipted.set(fact.log, Math.max(this.receipted.get(fact.log) ?? 0, fact.through))
    }
  }

  /** Reads what was appended since the last read, by any replica; the whole file when it was compacted since. */
  private catchUp (): void {
    let stats
    try {
      stats = statSync(this.file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    if (stats.ino !== this.readInode) {
      this.readInode = stats.ino
      this.readOffset = 0
      this.signed = new Map()
      this.receipted = new Map()
    }
    if (stats.size <= this.readOffset) return
    const text = readFileSync(this.file).subarray(this.readOffset)
    // only whole lines: a line being appended right now is read next time
    const end = text.lastIndexOf(0x0a) + 1
    for (const line of text.subarray(0, end).toString('utf8').split('\n')) {
      if (line.trim() !== '') this.apply(JSON.parse(line) as SignerFact)
    }
    this.readOffset += end
  }

  /** One write of whole lines (O_APPEND: no other replica's line lands inside it), then fsync. */
  private async append (facts: SignerFact[]): Promise<void> {
    const handle = await open(this.file, 'a', 0o600)
    try {
      await handle.write(facts.map((fact) => JSON.stringify(fact) + '\n').join(''))
      await handle.sync()
    } finally {
      await handle.close()
    }
    for (const fact of facts) this.apply(fact)
    if (statSync(this.file).size > COMPACT_BYTES) await this.compact()
  }

  /** Rewrites the file with the newest fact of each kind per log, flushed, then renamed over the old one. */
  private async compact (): Promise<void> {
    this.catchUp()
    const at = new Date().toISOString()
    const facts: SignerFact[] = [
      ...[...this.signed].map(([log, head]): SignerFact => ({ kind: 'checkpoint', log, size: head.size, root: head.root, at })),
      ...[...this.receipted].map(([log, through]): SignerFact => ({ kind: 'receipts', log, through, at }))
    ]
    const temporary = `${this.file}.${process.pid}.compact`
    const handle = await open(temporary, 'w', 0o600)
    try {
      await handle.write(facts.map((fact) => JSON.stringify(fact) + '\n').join(''))
      await handle.sync()
    } finally {
      await handle.close()
    }
    renameSync(temporary, this.file)
  }

  private async lock (): Promise<() => void> {
    const path = `${this.file}.lock`
    for (;;) {
      try {
        closeSync(openSync(path, 'wx', 0o600))
        return () => {
          try {
            unlinkSync(path)
          } catch {}
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        try {
          // a holder that died leaves its lock behind: past STALE_LOCK_MS it is taken as gone
          if (Date.now() - statSync(path).mtimeMs > STALE_LOCK_MS) unlinkSync(path)
        } catch {}
        await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS))
      }
    }
  }
}
