import { Type, type Static } from '@sinclair/typebox'
import { FieldFilterProperties } from './event-query.js'
import { DateTime, MAX_INTEGER, StringEnum } from './common.js'

/** A path inside event_specificdetails, dotted, with the key rules of the details filters of GET /events. */
const DETAILS_PATH_PATTERN = '^[^.$\\u0000][^.\\u0000]{0,127}(\\.[^.$\\u0000][^.\\u0000]{0,127}){0,7}$'

export const WebhookFilterSchema = Type.Object(
  {
    ...FieldFilterProperties,
    details: Type.Optional(
      Type.Object(
        {},
        {
          patternProperties: {
            [DETAILS_PATH_PATTERN]: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 100 })
          },
          additionalProperties: false,
          maxProperties: 20,
          description: 'Equality inside event_specificdetails, as details[<path>] of GET /events: `{"card.brand": ["visa"]}`'
        }
      )
    )
  },
  {
    $id: 'WebhookFilter',
    additionalProperties: false,
    description:
      'Which events a subscription gets: the field filters of GET /events (each an array of accepted values), combined with AND. Empty: every event.'
  }
)
export type WebhookFilter = Static<typeof WebhookFilterSchema>

const Url = Type.String({ minLength: 8, maxLength: 2048, format: 'uri', description: 'Where deliveries are POSTed: https (plain http only for hosts in WEBHOOK_ALLOW_HOSTS), never a private, loopback or link-local address', examples: ['https://siem.example.com/audit'] })
const Description = Type.String({ maxLength: 256, description: 'A note for admins' })
const State = StringEnum(['active', 'paused'], {
  description: 'paused: nothing is delivered (after WEBHOOK_MAX_FAILURES failures in a row, or by an admin) until set to active'
})

export const WebhookInputSchema = Type.Object(
  {
    url: Url,
    filter: Type.Optional(Type.Ref(WebhookFilterSchema)),
    description: Type.Optional(Description),
    start_after_seq: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_INTEGER,
        description: 'Deliver the events after this seq (0: the whole log). Default: only events that settle from now on'
      })
    )
  },
  { $id: 'WebhookInput', additionalProperties: false, description: 'A subscription to create.' }
)
export type WebhookInput = Static<typeof WebhookInputSchema>

export const WebhookChangesSchema = Type.Object(
  {
    url: Type.Optional(Url),
    filter: Type.Optional(Type.Ref(WebhookFilterSchema)),
    description: Type.Optional(Description),
    state: Type.Optional(State),
    resume_after_seq: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_INTEGER,
        description: 'Deliver again from the event after this seq (any seq, earlier or later than the last delivered)'
      })
    )
  },
  {
    $id: 'WebhookChanges',
    additionalProperties: false,
    minProperties: 1,
    description: 'Changes to a subscription; set state to active to resume a paused one.'
  }
)
export type WebhookChanges = Static<typeof WebhookChangesSchema>

export const WebhookSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{24}$', maxLength: 24, description: 'The subscription id' }),
    url: Type.String({ maxLength: 2048 }),
    filter: Type.Ref(WebhookFilterSchema),
    description: Type.Optional(Type.String({ maxLength: 256 })),
    state: State,
    last_delivered_seq: Type.Integer({
      minimum: 0,
      maximum: MAX_INTEGER,
      description: 'Every matching event up to this seq has been delivered (acknowledged with a 2xx)'
    }),
    failures: Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Failed attempts in a row of the delivery now being retried' }),
    last_error: Type.Union(
      [
        Type.Object(
          {
            message: Type.String({ maxLength: 4096, description: 'e.g. `HTTP 500`, `no answer within 10000 ms`, `HTTP 302: redirects are not followed`' }),
            at: DateTime('When it happened')
          },
          { additionalProperties: false }
        ),
        Type.Null()
      ],
      { description: 'The last failed attempt; null once none failed' }
    ),
    created_at: DateTime('When it was created'),
    updated_at: DateTime('When it was last changed by an admin')
  },
  { $id: 'Webhook', additionalProperties: false, description: 'A webhook subscription. Its secret is shown only when it is created.' }
)
export type Webhook = Static<typeof WebhookSchema>

export const CreatedWebhookSchema = Type.Object({
  ...WebhookSchema.properties,
  secret: Type.String({ maxLength: 128, description: 'Signs every delivery (Audit-Webhook-Signature). Shown this once: store it now' })
}, { $id: 'CreatedWebhook', additionalProperties: false, description: 'A new subscription, with its secret.' })

export const WebhookListSchema = Type.Object({
  items: Type.Array(Type.Ref(WebhookSchema), { maxItems: 10000, description: 'At most WEBHOOK_MAX_PER_TENANT' })
}, { $id: 'WebhookList', additionalProperties: false, description: 'The tenant\'s webhook subscriptions.' })

export const WebhookIdParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{24}$', maxLength: 24, description: 'The subscription id' })
}, { additionalProperties: false })
