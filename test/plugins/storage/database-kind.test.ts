import t from 'tap'
import { defaultWritesInFlight, kindFromBuildInfo } from '../../../src/plugins/app/storage/database-kind.js'
import { build } from '../../helper.js'

t.test('buildInfo tells FerretDB from MongoDB', async (t) => {
  t.equal(kindFromBuildInfo({ version: '7.0.42', ferretdbVersion: 'v1.24.0', ferretdb: { version: 'v1.24.0' } }), 'ferretdb')
  t.equal(kindFromBuildInfo({ version: '7.0.14', gitVersion: 'ce59cfc6a3c5e5c067dca0d30697edd68d4f5188', modules: [] }), 'mongodb')
  t.equal(defaultWritesInFlight('ferretdb'), 1, 'SQLite has one writer')
  t.equal(defaultWritesInFlight('mongodb'), 4)
})

t.test('on the test database (FerretDB) one bulk insert is in flight by default; the setting wins', async (t) => {
  const byDefault = await build(t)
  t.equal(byDefault.databaseKind, 'ferretdb', 'detected at startup from the server itself')
  t.equal(byDefault.eventWriter.maxInFlight, 1)
  const configured = await build(t, { config: { GROUP_COMMIT_MAX_IN_FLIGHT: 3 } })
  t.equal(configured.eventWriter.maxInFlight, 3, 'GROUP_COMMIT_MAX_IN_FLIGHT overrides the default')
  const groupCommitOff = await build(t, { config: { GROUP_COMMIT_MAX_BATCH: 1 } })
  t.equal(groupCommitOff.eventWriter.maxInFlight, Infinity, 'group commit off: every request writes on its own')
})
