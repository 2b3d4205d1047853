import type { EventInput } from '../src/schemas/event.js'

/**
 * The events every workload sends, and the reference harness stores: the brief's sample event, with a
 * unique event_id (so the service's idempotency index is exercised as in production, and no two are
 * duplicates) and the run's own marker in event_type (so the events one run stored can be counted).
 */
export const USERNAMES = Array.from({ length: 100 }, (_, i) => `user-${String(i).padStart(3, '0')}`)

let runCounter = 0

/** A marker no other run uses: `<label>-<pid>-<n>`. It goes in event_type and in every event_id. */
export function runMarker (label: string): string {
  runCounter++
  return `${label}-${process.pid}-${runCounter}`
}

export function sampleEvent (marker: string, seq: number): EventInput {
  const username = USERNAMES[seq % USERNAMES.length] as string
  return {
    event_type: marker,
    username,
    entitytype: 'customer_account',
    ip: `10.0.${(seq >> 8) & 255}.${seq & 255}`,
    location: 'New York',
    description: `A new customer account was created for ${username}`,
    event_id: `${marker}-${seq}`,
    event_specificdetails: {
      account_number: String(100000 + (seq % 900000)),
      email: `${username}@example.com`,
      plan: seq % 3 === 0 ? 'pro' : 'basic'
    }
  }
}

/** Consecutive events of one run: every call to `next` gives a new event_id. */
export class EventSequence {
  private seq = 0
  constructor (readonly marker: string) {}

  next (): EventInput {
    return sampleEvent(this.marker, this.seq++)
  }

  nextMany (count: number): EventInput[] {
    return Array.from({ length: count }, () => this.next())
  }
}
