/** What each role may do. A principal may hold several. */
export const ROLES = ['admin', 'writer', 'reader'] as const
export type Role = typeof ROLES[number]
