import { ObjectId } from 'mongodb'
import type { Event, EventInput } from '../schemas/event.js'
import { idempotencyKey, type StoredEvent } from '../plugins/app/event-store.js'
import type { Principal } from '../plugins/app/authorization.js'

/**
 * The stored form of a submitted event. Server fields come from the token and the clock, never from the
 * body (the schema refuses them there anyway).
 */
export function toStoredEvent (input: EventInput, principal: Principal, receivedAt: Date): StoredEvent {
  const _id = new ObjectId()
  const doc: StoredEvent = {
    _id,
    tenant: principal.tenant,
    idem_key: idempotencyKey(input, _id),
    timestamp: receivedAt,
    submitted_by: principal.username,
    event_type: input.event_type,
    username: input.username,
    entitytype: input.entitytype,
    ip: input.ip,
    location: input.location,
    description: input.description
  }
  if (input.event_specificdetails !== undefined) doc.event_specificdetails = input.event_specificdetails
  if (input.event_id !== undefined) doc.event_id = input.event_id
  if (input.occurred_at !== undefined) doc.occurred_at = new Date(input.occurred_at)
  return doc
}

/** The public form: `id` instead of `_id`, ISO dates, nothing internal. */
export function toPublicEvent (doc: StoredEvent): Event {
  const event: Event = {
    id: doc._id.toHexString(),
    timestamp: doc.timestamp.toISOString(),
    tenant: doc.tenant,
    submitted_by: doc.submitted_by,
    event_type: doc.event_type,
    username: doc.username,
    entitytype: doc.entitytype,
    ip: doc.ip,
    location: doc.location,
    description: doc.description
  }
  if (doc.event_specificdetails !== undefined) event.event_specificdetails = doc.event_specificdetails
  if (doc.event_id !== undefined) event.event_id = doc.event_id
  if (doc.occurred_at !== undefined) event.occurred_at = doc.occurred_at.toISOString()
  return event
}
