import type { TSchema } from '@sinclair/typebox'
import { ErrorSchema } from './common.js'
import {
  BatchInputSchema,
  BatchItemResultSchema,
  BatchResultSchema,
  EventInputSchema,
  EventSchema,
  IngestResultSchema,
  ReceiptSchema
} from './event.js'
import { EventPageSchema } from './event-query.js'
import { LoginRequestSchema, MeSchema, UserInputSchema, TokenSchema, UserChangesSchema, UserListSchema, UserSchema } from './auth.js'
import { HealthSchema, HealthWarningSchema } from './health.js'
import {
  CompletenessSchema,
  SeqHoleSchema,
  CheckpointSchema,
  InclusionProofSchema,
  EventProofSchema,
  ConsistencyProofSchema,
  PublicKeySchema,
  KeyListSchema,
  TileSchema,
  RetentionHorizonSchema,
  LogAccessInputSchema,
  LogAccessSchema
} from './integrity.js'
import { HistogramBucketSchema, HistogramSchema } from './histogram.js'
import { LegalHoldInputSchema, LegalHoldSchema, RetentionInputSchema, RetentionPolicySchema } from './tenant.js'
import { ErasureInputSchema, ErasureListSchema, ErasureMatchSchema, ErasureRequestSchema } from './erasure.js'
import {
  EventTypeInputSchema,
  EventTypeListSchema,
  EventTypeOpenApiSchema,
  EventTypePolicySchema,
  EventTypeSchema,
  EventTypeSummarySchema
} from './event-type.js'
import { ApiKeyInputSchema, ApiKeyListSchema, ApiKeySchema, CreatedApiKeySchema } from './api-key.js'
import {
  CreatedWebhookSchema,
  WebhookInputSchema,
  WebhookChangesSchema,
  WebhookFilterSchema,
  WebhookListSchema,
  WebhookSchema
} from './webhook.js'

/**
 * Schemas with an `$id`, registered once (for validation, serialization and the OpenAPI document's
 * named components) and referenced by routes with `Type.Ref`.
 */
export const SHARED_SCHEMAS: TSchema[] = [
  ErasureMatchSchema,
  ErasureInputSchema,
  ErasureRequestSchema,
  ErasureListSchema,
  ErrorSchema,
  EventInputSchema,
  EventSchema,
  ReceiptSchema,
  IngestResultSchema,
  BatchInputSchema,
  BatchItemResultSchema,
  BatchResultSchema,
  EventPageSchema,
  LoginRequestSchema,
  TokenSchema,
  MeSchema,
  UserSchema,
  UserListSchema,
  UserInputSchema,
  UserChangesSchema,
  ApiKeyInputSchema,
  ApiKeySchema,
  CreatedApiKeySchema,
  ApiKeyListSchema,
  HealthWarningSchema,
  HealthSchema,
  SeqHoleSchema,
  CompletenessSchema,
  CheckpointSchema,
  InclusionProofSchema,
  EventProofSchema,
  ConsistencyProofSchema,
  PublicKeySchema,
  KeyListSchema,
  TileSchema,
  RetentionHorizonSchema,
  LogAccessInputSchema,
  LogAccessSchema,
  HistogramBucketSchema,
  HistogramSchema,
  RetentionInputSchema,
  RetentionPolicySchema,
  LegalHoldInputSchema,
  LegalHoldSchema,
  WebhookFilterSchema,
  WebhookInputSchema,
  WebhookChangesSchema,
  WebhookSchema,
  CreatedWebhookSchema,
  WebhookListSchema,
  EventTypeInputSchema,
  EventTypeSchema,
  EventTypeSummarySchema,
  EventTypeListSchema,
  EventTypePolicySchema,
  EventTypeOpenApiSchema
]
