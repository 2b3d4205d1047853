import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'
import type { SeqFloor } from '../events/sequencer.js'

/**
 * What the signer remembers, outside the database, with the key's custody: per log (database and tenant) the
 * newest checkpoint it signed (size and root) and the seqs it handed out in receipts. Whoever can write the
 * database but not this file cannot make the service sign a history that contradicts what it signed before,
 * nor give a receipted seq to another event.
 *
 * An append-only file of JSON lines, one fact each. Every replica that shares the signing key shares this
 * file (it lives beside the key by default): a replica reads what the others appended before it decides, and
 * decisions are taken one replica at a time under a lock file (`<file>.lock`, created exclusively), so no
 * replica signs a tree inconsistent with a checkpoint any of them signed. A checkpoint fact is flushed to disk
 * (fsync) before its signature is served. The file is compacted (rewritten with what still matters, then
 * renamed into place) when it grows past COMPACT_BYTES.
 *
 * Receipts are covered twice, so that the disk is flushed once per block of seqs rather than once per bulk
 * write (an fsync per bulk write cost W1 a fifth of its throughput: BENCHMARKS.md, "Receipts"):
 * - a **reservation**, flushed: this replica may receipt the tenant's seqs up to `through` until `until`
 *   (a lease of LEASE_MS, about a second of the tenant's traffic ahead, at most MAX_AHEAD). It is released, unflushed, when no
 *   longer used; one never released (the replica died) counts, once expired, as handed out;
 * - the **exact mark**, written (to the page cache, not flushed) before the receipt is served: it survives the
 *   process, and after a host's crash the reservation covers it.
 */
export interface SignedHead {
  size: number
  /** lowercase hex */
  root: string
}

export type SignerFact =
  | { kind: 'checkpoint', log: string, size: number, root: string, at: string }
  | { kind: 'receipts', log: string, through: number, at: string }
  | { kind: 'reserved', log: string, replica: string, through: number, until: number, at: string }
  | { kind: 'released', log: string, replica: string, at: string }

/** How long a reservation lets its replica hand out receipts without flushing the record again. */
export const LEASE_MS = 5000
/** A reservation this close to its end is renewed before a receipt relies on it. */
const RENEW_BEFORE_MS = 2000
/** An unused reservation is released this long before its end, so no other replica takes it for a dead one's. */
const RELEASE_BEFORE_MS = 1000
/**
 * Seqs a reservation covers beyond the one that asked: about a second of the tenant's recent rate, within these.
 * A replica that dies leaves what it did not use as holes, so this is kept small: a flush a second is cheap enough.
 */
const AHEAD_MS = 1000
const MIN_AHEAD = 32
const MAX_AHEAD = 1024
/** How long a lock may be held before another replica takes it as left by a dead process. */
const STALE_LOCK_MS = 10_000
const LOCK_RETRY_MS = 2
const COMPACT_BYTES = 1024 * 1024

interface OwnReservation {
  through: number
  until: number
  /** The seq and time it was made for: the next reservation's size follows the rate since. */
  from: number
  madeAt: number
  /** Its release, due before it ends unless a renewal replaced it. */
  release?: NodeJS.Timeout
}

export class SignerState {
  /** This process among the replicas sharing the file: its reservations are its own, and live while it runs. */
  readonly replica = randomBytes(6).toString('hex')
  private signed = new Map<string, SignedHead>()
  private receipted = new Map<string, number>()
  private reservations = new Map<string, Map<string, { through: number, until: number }>>()
  private readonly own = new Map<string, OwnReservation>()
  /** The file as last read: its inode and how many bytes; a new inode (compacted) is read again whole. */
  private readInode = -1
  private readOffset = 0
  /** Where unflushed facts are appended (appendUnflushed). */
  private unflushedFd: number | undefined
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

  /** The highest seq known to be handed out in a receipt for the tenant's log, by any replica (0 when none). */
  receiptedThrough (tenant: string): number {
    this.catchUp()
    return this.receipted.get(this.logOf(tenant)) ?? 0
  }

  /** See SeqFloor. Live replicas' reservations do not count: their exact marks are written before their receipts. */
  seqFloor (tenant: string): SeqFloor {
    this.catchUp()
    const log = this.logOf(tenant)
    const now = Date.now()
    let reserved = 0
    for (const [replica, { through, until }] of this.reservations.get(log) ?? []) {
      if (replica !== this.replica && until <= now) reserved = Math.max(reserved, through)
    }
    return { receipted: this.receipted.get(log) ?? 0, reserved }
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
      if (append.length > 0) await this.appendFlushed(append)
      return result
    } finally {
      release()
    }
  }

  /** The fact that the tenant's tree of `size` with `root` is signed: appended before the signature is served. */
  checkpointFact (tenant: string, head: SignedHead): SignerFact {
    return { kind: 'checkpoint', log: this.logOf(tenant), size: head.size, root: head.root, at: new Date().toISOString() }
  }

  /** Whether receipts through `seq` are covered already, without a write (see coverReceipts). */
  covers (tenant: string, seq: number): boolean {
    const own = this.own.get(tenant)
    return own !== undefined && own.through >= seq && own.until - Date.now() > RENEW_BEFORE_MS &&
      (this.receipted.get(this.logOf(tenant)) ?? 0) >= seq
  }

  /**
   * Makes the record cover receipts through `seq` before they are served: this replica's reservation (flushed,
   * made anew only when the last one is used up or ending) and the exact mark (written, not flushed). One
   * caller per tenant at a time (the receipt sealer coalesces them).
   */
  async coverReceipts (tenant: string, seq: number): Promise<void> {
    const own = this.own.get(tenant)
    const now = Date.now()
    if (own === undefined || own.through < seq || own.until - now <= RENEW_BEFORE_MS) await this.reserve(tenant, seq, own)
    const log = this.logOf(tenant)
    if ((this.receipted.get(log) ?? 0) < seq) this.appendUnflushed([{ kind: 'receipts', log, through: seq, at: new Date().toISOString() }])
  }

  /** Releases this replica's reservations, so no other replica takes their unused seqs for a dead replica's. */
  async close (): Promise<void> {
    const tenants = [...this.own.keys()]
    for (const tenant of tenants) clearTimeout(this.own.get(tenant)?.release)
    this.own.clear()
    const at = new Date().toISOString()
    if (tenants.length > 0) this.appendUnflushed(tenants.map((tenant) => ({ kind: 'released', log: this.logOf(tenant), replica: this.replica, at })))
    if (this.unflushedFd !== undefined) closeSync(this.unflushedFd)
    this.unflushedFd = undefined
  }

  private async reserve (tenant: string, seq: number, previous: OwnReservation | undefined): Promise<void> {
    const log = this.logOf(tenant)
    const now = Date.now()
    // over a second at least: a burst right after the previous reservation is no rate
    const rate = previous === undefined ? 0 : (seq - previous.from) / Math.max(AHEAD_MS, now - previous.madeAt)
    const ahead = Math.min(MAX_AHEAD, Math.max(MIN_AHEAD, Math.ceil(rate * AHEAD_MS)))
    const through = Math.max(seq + ahead, previous?.through ?? 0)
    const until = now + LEASE_MS
    await this.exclusively(async () => ({
      append: [{ kind: 'reserved', log, replica: this.replica, through, until, at: new Date(now).toISOString() }],
      result: undefined
    }))
    clearTimeout(previous?.release)
    const reservation: OwnReservation = { through, until, from: seq, madeAt: now }
    reservation.release = setTimeout(() => {
      if (this.own.get(tenant) !== reservation) return
      this.own.delete(tenant)
      try {
        this.appendUnflushed([{ kind: 'released', log, replica: this.replica, at: new Date().toISOString() }])
      } catch {}
    }, LEASE_MS - RELEASE_BEFORE_MS).unref()
    this.own.set(tenant, reservation)
  }

  private logOf (tenant: string): string {
    return `${this.database}/${tenant}`
  }

  private apply (fact: SignerFact): void {
    if (fact.kind === 'checkpoint') {
      const current = this.signed.get(fact.log)
      if (current === undefined || fact.size >= current.size) this.signed.set(fact.log, { size: fact.size, root: fact.root })
    } else if (fact.kind === 'receipts') {
      this.receipted.set(fact.log, Math.max(this.receipted.get(fact.log) ?? 0, fact.through))
    } else {
      const replicas = this.reservations.get(fact.log) ?? new Map<string, { through: number, until: number }>()
      if (fact.kind === 'reserved') replicas.set(fact.replica, { through: fact.through, until: fact.until })
      else replicas.delete(fact.replica)
      this.reservations.set(fact.log, replicas)
    }
  }

  /** Reads what was appended since the last read, by any replica; the whole file when it was compacted since. */
  private catchUp (): void {
    let fd
    try {
      fd = openSync(this.file, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    try {
      const stats = fstatSync(fd)
      if (stats.ino !== this.readInode) {
        this.readInode = stats.ino
        this.readOffset = 0
        this.signed = new Map()
        this.receipted = new Map()
        this.reservations = new Map()
      }
      if (stats.size <= this.readOffset) return
      const text = Buffer.alloc(stats.size - this.readOffset)
      const read = readSync(fd, text, 0, text.length, this.readOffset)
      // only whole lines: a line being appended right now is read next time
      const end = text.subarray(0, read).lastIndexOf(0x0a) + 1
      for (const line of text.subarray(0, end).toString('utf8').split('\n')) {
        if (line.trim() !== '') this.apply(JSON.parse(line) as SignerFact)
      }
      this.readOffset += end
    } finally {
      closeSync(fd)
    }
  }

  /** One write of whole lines (O_APPEND: no other replica's line lands inside it), flushed before this resolves. */
  private async appendFlushed (facts: SignerFact[]): Promise<void> {
    const handle = await open(this.file, 'a', 0o600)
    try {
      await handle.write(facts.map((fact) => JSON.stringify(fact) + '\n').join(''))
      await handle.sync()
    } finally {
      await handle.close()
    }
    for (const fact of facts) this.apply(fact)
    // compaction rewrites what others may be appending to: only under the lock, as flushed facts are written
    if (statSync(this.file).size > COMPACT_BYTES) await this.compact()
  }

  /**
   * One write of whole lines to the page cache, not flushed, through a descriptor kept open: a write per bulk
   * write, synchronous (a few microseconds), where opening and closing the file each time cost more than the
   * write. A compaction replaces the file: a descriptor of one no longer linked is opened again.
   */
  private appendUnflushed (facts: SignerFact[]): void {
    if (this.unflushedFd !== undefined && fstatSync(this.unflushedFd).nlink === 0) {
      closeSync(this.unflushedFd)
      this.unflushedFd = undefined
    }
    this.unflushedFd ??= openSync(this.file, 'a', 0o600)
    writeSync(this.unflushedFd, facts.map((fact) => JSON.stringify(fact) + '\n').join(''))
    for (const fact of facts) this.apply(fact)
  }

  /**
   * Rewrites the file with what still matters (the newest checkpoint and exact mark per log, every reservation
   * not released), flushed, then renamed over the old one. An exact mark another replica appends while this
   * runs may be lost with the old file: it is written again with that replica's next receipts, and until then
   * its reservation (flushed, under the lock, so never lost here) covers those seqs.
   */
  private async compact (): Promise<void> {
    this.catchUp()
    const at = new Date().toISOString()
    const facts: SignerFact[] = [
      ...[...this.signed].map(([log, head]): SignerFact => ({ kind: 'checkpoint', log, size: head.size, root: head.root, at })),
      ...[...this.receipted].map(([log, through]): SignerFact => ({ kind: 'receipts', log, through, at })),
      ...[...this.reservations].flatMap(([log, replicas]) =>
        [...replicas].map(([replica, { through, until }]): SignerFact => ({ kind: 'reserved', log, replica, through, until, at })))
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
