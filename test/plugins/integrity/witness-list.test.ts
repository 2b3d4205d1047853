import t from 'tap'
import { parseWitnesses, quorumOf, WitnessConfigError } from '../../../src/plugins/app/integrity/witness/witness-list.js'

/** WITNESSES and WITNESS_QUORUM are checked at boot: a typo stops the service rather than leave checkpoints unwitnessed. */
const VKEY = 'witness.example/w1+658d5487+BOPaTVUWdpiVpDRiUIGQHCD2RwXnHKhYgeaFJLr/LybM'

t.test('a witness over https, or over http to an allowed host, is read with its key name', async (t) => {
  const [witness] = parseWitnesses(JSON.stringify([{ url: 'https://witness.example/prefix/', vkey: VKEY }]), '')
  t.equal(witness?.name, 'witness.example/w1')
  t.equal(witness?.url, 'https://witness.example/prefix', 'the trailing slash is dropped: add-checkpoint goes under it')
  t.equal(parseWitnesses(JSON.stringify([{ url: 'http://127.0.0.1:7380', vkey: VKEY }]), 'localhost, 127.0.0.1')[0]?.url, 'http://127.0.0.1:7380')
  t.same(parseWitnesses('', ''), [], 'empty: no witnessing')
})

t.test('every mistake is named', async (t) => {
  const refuse = (json: string, pattern: RegExp, allow = '') => t.throws(() => parseWitnesses(json, allow), pattern)
  refuse('{', /JSON array/)
  refuse('{"url": "https://w"}', /JSON array/)
  refuse(JSON.stringify([{ url: 'https://w', vkey: VKEY, key: 'x' }]), /WITNESSES\[0\] must be/)
  refuse(JSON.stringify([{ url: 'https://w' }]), /WITNESSES\[0\] must be/)
  refuse(JSON.stringify([{ url: 'https://w', vkey: VKEY.replace('658d5487', '00000000') }]), /WITNESSES\[0\]\.vkey: .*id/)
  refuse(JSON.stringify([{ url: 'https://w', vkey: 'audit-log.example/acme+0da23148+AXaxQx+gZhUO5sknVoodm+kTHNP7fcYXm9NvG+Kemg3P' }]), /type 0x04/)
  refuse(JSON.stringify([{ url: 'http://witness.example', vkey: VKEY }]), /must be https/, '127.0.0.1')
  refuse(JSON.stringify([{ url: 'https://user:pw@witness.example', vkey: VKEY }]), /plain prefix/)
  refuse(JSON.stringify([{ url: 'not a url', vkey: VKEY }]), /not a URL/)
  refuse(JSON.stringify([{ url: 'https://a', vkey: VKEY }, { url: 'https://b', vkey: VKEY }]), /twice/)
  t.ok(parseWitnesses('[]', '') instanceof Array)
  t.throws(() => parseWitnesses('{', ''), WitnessConfigError)
})

t.test('WITNESS_QUORUM: 0 is all of them; more than there are is refused', async (t) => {
  const witnesses = parseWitnesses(JSON.stringify([{ url: 'https://w', vkey: VKEY }]), '')
  t.equal(quorumOf(0, witnesses), 1)
  t.equal(quorumOf(1, witnesses), 1)
  t.throws(() => quorumOf(2, witnesses), /only 1 witness/)
  t.equal(quorumOf(0, []), 0, 'no witness: nothing to reach')
})
