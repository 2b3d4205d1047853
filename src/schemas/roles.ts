/**
 * What each role may do. A principal may hold several. A monitor reads its tenant's checkpoints, hash tiles and
 * consistency proofs, and nothing else: what a witness or an outside monitor needs to follow the log (#27).
 */
export const ROLES = ['admin', 'writer', 'reader', 'monitor'] as const
export type Role = typeof ROLES[number]
