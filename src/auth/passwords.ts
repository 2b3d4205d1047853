import argon2 from 'argon2'

/**
 * argon2id at the library's defaults (m = 64 MiB, t = 3, p = 4), spelled out so that a change in a
 * future argon2 release cannot lower them silently; `needsRehash` upgrades old hashes on login.
 */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 65536, timeCost: 3, parallelism: 4 } as const

export async function hashPassword (password: string): Promise<string> {
  return await argon2.hash(password, ARGON2_OPTIONS)
}

export async function verifyPassword (hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password)
  } catch {
    // a corrupt stored hash is a failed login, not a 500
    return false
  }
}

export function needsRehash (hash: string): boolean {
  return argon2.needsRehash(hash, ARGON2_OPTIONS)
}

let dummyHash: Promise<string> | undefined
/** Verified against when the user does not exist, so unknown and known usernames take the same time. */
export async function getDummyHash (): Promise<string> {
  dummyHash ??= hashPassword('dummy password for timing equalisation')
  return await dummyHash
}
