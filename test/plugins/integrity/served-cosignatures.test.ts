import t from 'tap'
import { headVerifies, withVerifiedCosignatures } from '../../../src/plugins/app/integrity/witness/served-cosignatures.js'
import { parseWitnesses } from '../../../src/plugins/app/integrity/witness/witness-list.js'
import type { WitnessHead } from '../../../src/plugins/app/integrity/witness/witness-heads.js'

/**
 * What a checkpoint is served with comes from the database, which is not trusted for it: only a cosignature that
 * verifies against the configured witness key over this very note is appended (a cosignature litewitness made,
 * as in test/verifier/cosignature.test.ts), and only such a stored head may tell the service a witness's size.
 */
const VKEY = 'witness.example/w1+658d5487+BOPaTVUWdpiVpDRiUIGQHCD2RwXnHKhYgeaFJLr/LybM'
const ORIGIN = 'audit-log.example/acme'
const ROOT = Buffer.from('Aippeebat6pa5MPl5F9+l3ESp+Y1k4INvsHsc4ok+Tw=', 'base64').toString('hex')
const NOTE = `${ORIGIN}\n1\nAippeebat6pa5MPl5F9+l3ESp+Y1k4INvsHsc4ok+Tw=\n\n\u2014 ${ORIGIN} DaIxSAAAAA==\n`
const LINE = '\u2014 witness.example/w1 ZY1UhwAAAABrFp1Svm58ZRHVXgPhGUXSGJfQ+qJnbLLeN6047H3BJfXBoftSdt3kFItUteo+9kcIcD409qEuGBn5yDo7JtuWE33pDg==\n'
const witnesses = parseWitnesses(JSON.stringify([{ url: 'https://witness.example', vkey: VKEY }]), '')
const checkpoint = { tenant: 'acme', tree_size: 1, root_hash: ROOT, issued_at: '2026-12-07T11:49:38.000Z', key_id: 'k', signature: 's', note: NOTE }

function head (overrides: Partial<WitnessHead> = {}): WitnessHead {
  return { _id: 'x', log: 'witness.example/w1 acme', witness: 'witness.example/w1', tenant: 'acme', size: 1, root: ROOT, cosignature: LINE, timestamp: 1796644178, ...overrides }
}

t.test('a genuine stored cosignature is appended to the note, and makes the quorum', async (t) => {
  const served = withVerifiedCosignatures(checkpoint, [head()], witnesses, 1)
  t.equal(served.note, NOTE + LINE)
  t.equal(served.witnessed, true)
  t.same(served.cosignatures, [{ witness: 'witness.example/w1', timestamp: '2026-12-07T11:49:38.000Z' }])
  t.equal(withVerifiedCosignatures(checkpoint, [head()], witnesses, 2).witnessed, false, 'below the quorum: not witnessed')
})

/** The cosignature line with one bit of its blob flipped: key id (bytes 0-3), timestamp (4-11), signature (12-75). */
function flipped (byte: number): string {
  const [dash, name, blob] = LINE.trimEnd().split(' ') as [string, string, string]
  const bytes = Buffer.from(blob, 'base64')
  bytes[byte] = (bytes[byte] as number) ^ 1
  return `${dash} ${name} ${bytes.toString('base64')}\n`
}

t.test('a stored cosignature written around the witness is left out', async (t) => {
  for (const [what, stored] of [
    ['a signature byte altered', head({ cosignature: flipped(40) })],
    ['its timestamp altered (signed with the rest)', head({ cosignature: flipped(11) })],
    ['its key id altered', head({ cosignature: flipped(0) })],
    ['a head of another root', head({ root: 'ab'.repeat(32) })],
    ['a head of another witness', head({ witness: 'witness.example/w2' })],
    ['a line that is no note signature', head({ cosignature: 'nonsense\n' })]
  ] as const) {
    const served = withVerifiedCosignatures(checkpoint, [stored], witnesses, 1)
    t.equal(served.note, NOTE, what)
    t.equal(served.witnessed, false, what)
  }
})

t.test("a stored head tells the witness's size only with the witness's signature over that size", async (t) => {
  const [witness] = witnesses
  if (witness === undefined) throw new Error('no witness')
  t.equal(headVerifies(ORIGIN, head(), witness), true)
  t.equal(headVerifies(ORIGIN, head({ size: 1_000_000 }), witness), false, 'a size made up in the database')
  t.equal(headVerifies('audit-log.example/other', head(), witness), false, "another log's origin")
})
