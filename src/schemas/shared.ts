import type { TSchema } from '@sinclair/typebox'
import { ErrorSchema } from './common.js'
import { BatchItemResultSchema, EventInputSchema, EventSchema, IngestResultSchema } from './event.js'
import { UserSchema } from './auth.js'
import { CompletenessSchema, SeqHoleSchema } from './integrity.js'

/**
 * Schemas with an `$id`, registered once (for validation, serialization and the OpenAPI document's
 * named components) and referenced by routes with `Type.Ref`.
 */
export const SHARED_SCHEMAS: TSchema[] = [ErrorSchema, EventInputSchema, EventSchema, IngestResultSchema, BatchItemResultSchema, UserSchema, SeqHoleSchema, CompletenessSchema]
