import t from 'tap'
import { MongoClient } from 'mongodb'
import { build, MONGODB_URL, testDatabaseName } from '../../helper.js'

t.test('each test file gets its own database, named after the file', async (t) => {
  t.match(testDatabaseName, /^test_mongodb_\d+_[0-9a-f]{6}$/)
  const app = await build(t)
  t.equal(app.mongo.db?.databaseName, testDatabaseName)
})

t.test('what the app writes goes through the wire: a second, independent client reads it', async (t) => {
  const app = await build(t)
  const marker = `wire-check-${Date.now()}`
  await app.mongo.db?.collection('wire_check').insertOne({ marker })

  const other = new MongoClient(MONGODB_URL)
  t.teardown(() => other.close())
  const seen = await other.db(testDatabaseName).collection('wire_check').findOne({ marker })
  t.equal(seen?.marker, marker)
  const elsewhere = await other.db('some_other_database').collection('wire_check').findOne({ marker })
  t.equal(elsewhere, null, 'not visible from another database')
})

t.test('startup creates the collections\' indexes, and doing it again is harmless', async (t) => {
  const first = await build(t)
  await first.close()
  const app = await build(t)
  const names = (await app.eventStore.collection.listIndexes().toArray()).map((index) => index.name).sort()
  t.same(names, ['_id_', 'tenant_idem_key', 'tenant_seq', 'tenant_time', 'tenant_type_time', 'tenant_username_time'])
  const users = (await app.userStore.collection.listIndexes().toArray()).map((index) => index.name).sort()
  t.same(users, ['_id_', 'tenant_user'])
})
