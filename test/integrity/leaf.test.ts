import t from 'tap'
import { randomBytes } from 'node:crypto'
import {
  commitment,
  committedValues,
  deriveSalt,
  holeLeafHash,
  leafDocument,
  leafHash,
  saltOf,
  type EventForLeaf
} from '../../src/verifier/leaf.js'
import { build, bearer, sampleEvent, userWithToken } from '../helper.js'
import { BriefSampleEvent } from '../../src/schemas/event.js'

/**
 * The leaf format, which an independent verifier must be able to rebuild from the README: personal
 * fields enter it only as salted commitments, so that erasing one later keeps every leaf hash.
 */
const event: EventForLeaf = {
  id: '6650d1f2a1b2c3d4e5f60718',
  seq: 7,
  tenant: 'acme',
  timestamp: '2026-12-01T10:00:00.000Z',
  submitted_by: 'ingest-bot',
  ...BriefSampleEvent,
  event_specificdetails: { ...BriefSampleEvent.event_specificdetails, card: { brand: 'visa', last4: 4242 }, tags: ['a', 'b'], empty: {} },
  salt: randomBytes(16).toString('base64url')
}

t.test('the leaf document', async (t) => {
  const doc = leafDocument(event)
  t.same(
    Object.keys(doc).sort(),
    ['commitments', 'entitytype', 'event_type', 'id', 'seq', 'submitted_by', 'tenant', 'timestamp', 'v'],
    'identity, position, type and provenance in clear'
  )
  t.notOk(JSON.stringify(doc).includes('john'), 'no personal value appears in it')
  t.same(Object.keys(doc.commitments as object).sort(), [
    'description', 'event_specificdetails.account_number', 'event_specificdetails.card.brand', 'event_specificdetails.card.last4',
    'event_specificdetails.email', 'event_specificdetails.empty', 'event_specificdetails.tags', 'ip', 'location', 'username'
  ], 'one commitment per personal field and per value inside the details, by dotted path')
  t.equal(
    leafHash({
      ...event,
      event_specificdetails: {
        tags: ['a', 'b'],
        empty: {},
        card: { last4: 4242, brand: 'visa' },
        email: 'john@gmail.com',
        account_number: '94859'
      }
    }),
    leafHash(event),
    'key order does not matter (RFC 8785)'
  )
  t.not(
    leafHash({ ...event, event_specificdetails: { ...(event.event_specificdetails as object), tags: ['b', 'a'] } }),
    leafHash(event),
    'array order does'
  )
  t.not(leafHash({ ...event, salt: randomBytes(16).toString('base64url') }), leafHash(event), 'the salt is part of the commitments')
  t.not(holeLeafHash('acme', 7), holeLeafHash('acme', 8), 'a hole\'s filler leaf names its seq')
})

t.test('erasing a field keeps the leaf hash, and nothing else fits the kept commitment', async (t) => {
  const before = leafHash(event)
  // what an erasure leaves: the values null, the seed replaced by the salts of what remains, the erased commitments kept
  const erasedPaths = ['username', 'event_specificdetails.email']
  const salts = Object.fromEntries(
    committedValues(event)
      .filter(([path]) => !erasedPaths.includes(path))
      .map(([path]) => [path, saltOf(event, path).toString('base64url')])
  )
  const commitments = Object.fromEntries(
    committedValues(event)
      .filter(([path]) => erasedPaths.includes(path))
      .map(([path, value]) => [path, commitment(saltOf(event, path), value)])
  )
  const erased: EventForLeaf = {
    ...event,
    username: null,
    event_specificdetails: { ...(event.event_specificdetails as object), email: null },
    salt: undefined,
    salts,
    commitments,
    erased: erasedPaths
  }
  t.equal(leafHash(erased), before, 'the same leaf hash after the erasure')
  t.throws(
    () => leafHash({ ...erased, commitments: { username: commitments.username as string } }),
    /event_specificdetails.email is erased but its commitment is missing/,
    'an erased field needs its commitment'
  )
  t.not(
    leafHash({ ...erased, commitments: { ...commitments, username: commitment(randomBytes(16), 'someone') } }),
    before,
    'a changed commitment is caught'
  )
  const guessedSalt = deriveSalt(randomBytes(16), 'username')
  t.not(
    leafHash({
      ...erased,
      username: 'john_mayor',
      erased: ['event_specificdetails.email'],
      salts: { ...salts, username: guessedSalt.toString('base64url') }
    }),
    before,
    'a value put back under another salt is caught'
  )
  t.throws(
    () => leafHash({ ...erased, username: 'mallory' }),
    /username is listed as erased but has a value/,
    'a value beside an erased path is refused: nothing vouches for it'
  )
  t.throws(
    () => leafHash({ ...erased, erased: [...erasedPaths, 'event_type'] }),
    /event_type is listed as erased but the event has no such field/,
    'so is an erased path the event does not have'
  )
})

t.test('a lone surrogate is refused before it could be stored or hashed', async (t) => {
  const app = await build(t)
  const writer = await userWithToken(app, { username: 'surrogate-writer', roles: ['writer'] })
  const body = JSON.stringify(sampleEvent()).replace('john_mayor', 'john\\ud800mayor')
  const res = await app.inject({
    method: 'POST',
    url: '/events',
    headers: { ...bearer(writer), 'content-type': 'application/json' },
    payload: body
  })
  t.same([res.statusCode, res.json().code], [400, 'BAD_REQUEST'], 'a 400 with the documented body')
  const paired = await app.inject({
    method: 'POST',
    url: '/events',
    headers: { ...bearer(writer), 'content-type': 'application/json' },
    payload: JSON.stringify(sampleEvent()).replace('john_mayor', 'john\\ud83d\\ude00mayor')
  })
  t.equal(paired.statusCode, 201, 'an escaped pair (an emoji) is fine')
})
