import argon2 from 'argon2'

/** The argon2id cost: memory in KiB and passes (parallelism stays 4). */
export interface HashCost {
  memoryCost: number
  timeCost: number
}

/**
 * argon2id at the library's defaults (m = 64 MiB, t = 3, p = 4), spelled out so that a change in a
 * future argon2 release cannot lower them silently; `needsRehash` upgrades old hashes on login.
 */
export const DEFAULT_HASH_COST: HashCost = { memoryCost: 65536, timeCost: 3 }

const PARALLELISM = 4

/** Hashes and checks passwords at one configured cost (PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_TIME_COST). */
export class PasswordHasher {
  private readonly options: { type: typeof argon2.argon2id, memoryCost: number, timeCost: number, parallelism: number }
  private dummy: Promise<string> | undefined

  constructor (cost: HashCost = DEFAULT_HASH_COST) {
    this.options = { type: argon2.argon2id, memoryCost: cost.memoryCost, timeCost: cost.timeCost, parallelism: PARALLELISM }
  }

  async hash (password: string): Promise<string> {
    return await argon2.hash(password, this.options)
  }

  async verify (hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password)
    } catch {
      // a corrupt stored hash is a failed login, not a 500
      return false
    }
  }

  /** A hash made at another cost (older, or weaker) is replaced on the next successful login. */
  needsRehash (hash: string): boolean {
    return argon2.needsRehash(hash, this.options)
  }

  /** Verified against when the user does not exist, so unknown and known usernames take the same time. */
  async dummyHash (): Promise<string> {
    this.dummy ??= this.hash('dummy password for timing equalisation')
    return await this.dummy
  }
}

const defaultHasher = new PasswordHasher()

/** A hash at the default cost (scripts and tests that make users outside an app). */
export async function hashPassword (password: string): Promise<string> {
  return await defaultHasher.hash(password)
}
