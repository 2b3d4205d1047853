import { MAX_BATCH } from '../schemas/event.js'
import { DETAILS_LIMITS } from '../validation/safe-document.js'

/**
 * Each body-taking route reads at most what its schema can accept, so an unauthenticated 15 MB /login
 * body is refused with 413 from its Content-Length, before a byte of it is read or parsed.
 * Sizes are of compact UTF-8 JSON; padding it with whitespace or \u escapes can push a valid document over.
 */
const KiB = 1024

/** Login and user management: a username, a password of at most 1024 characters (6 bytes each as \uXXXX), roles. */
export const LOGIN_BODY_LIMIT = 8 * KiB
export const USER_BODY_LIMIT = 8 * KiB

/**
 * One event: details at most 32 KiB serialized, plus the bounded string fields (4,992 characters in all,
 * at most 3 bytes each in UTF-8), the address, the date, the names and punctuation: under 48 KiB.
 */
export const EVENT_BODY_LIMIT = 48 * KiB
const STRING_FIELD_CHARACTERS = 128 + 256 + 128 + 256 + 4096 + 128
export const LARGEST_EVENT_BYTES = DETAILS_LIMITS.maxBytes + 3 * STRING_FIELD_CHARACTERS + 64 + 64 + 512

/**
 * One version of an event type: a schema of at most 32 KiB as compact JSON (twice that, for one sent indented), an
 * example as large as an event's details, a description of 4,096 characters (3 bytes each in UTF-8) and the envelope.
 */
export const EVENT_TYPE_BODY_LIMIT = 2 * 32 * KiB + DETAILS_LIMITS.maxBytes + 3 * 4096 + KiB

/** A batch: what MAX_BATCH of the largest events take, with their commas and the envelope. */
export const BATCH_BODY_LIMIT = MAX_BATCH * (EVENT_BODY_LIMIT + 1) + KiB

/** Routes allowing bodies over this size draw on the in-flight budget (BATCH_BYTES_IN_FLIGHT; see plugins/app/body-budget.ts). */
export const BUDGETED_BODY_ABOVE = 1024 * KiB
