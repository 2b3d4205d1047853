import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { ferretDbBinary } from '../src/embedded/ferretdb.js'

const secret = 's'.repeat(32)

t.test('defaults apply and text values are coerced', async (t) => {
  const config = loadConfig({ PORT: '8080', WRITE_CONCERN_J: 'false', MONGODB_URL: 'mongodb://db:27017', JWT_SECRET: secret })
  t.equal(config.PORT, 8080)
  t.equal(config.WRITE_CONCERN_J, false)
  t.equal(config.WRITE_CONCERN_W, 'majority')
  t.equal(config.JWT_TTL, 900)
  t.equal(config.GROUP_COMMIT_MAX_BATCH, 500)
  t.equal(config.HOST, '127.0.0.1')
})

t.test('the embedded default needs nothing set', async (t) => {
  const config = loadConfig({})
  t.equal(config.MONGODB_URL, undefined)
  t.equal(config.JWT_SECRET, undefined)
  t.equal(config.PORT, 3000)
})

t.test('FERRETDB_BIN: the embedded default\'s executable, unset unless given', async (t) => {
  t.equal(loadConfig({}).FERRETDB_BIN, undefined, 'unset: the project\'s .tools/bin/ferretdb')
  t.equal(loadConfig({ FERRETDB_BIN: '' }).FERRETDB_BIN, undefined, 'empty means unset')
  const config = loadConfig({ FERRETDB_BIN: '/opt/ferretdb/bin/ferretdb' })
  t.equal(config.FERRETDB_BIN, '/opt/ferretdb/bin/ferretdb')
  t.equal(ferretDbBinary(config.FERRETDB_BIN), '/opt/ferretdb/bin/ferretdb', 'the configured one is the one started')
  t.match(
    ferretDbBinary(undefined),
    process.env.FERRETDB_BIN !== undefined && process.env.FERRETDB_BIN !== '' ? process.env.FERRETDB_BIN : /\.tools\/bin\/ferretdb$/,
    "without a config: the environment, else the project's build"
  )
})

t.test('unrelated and empty variables are ignored', async (t) => {
  const config = loadConfig({ PATH: '/usr/bin', PORT: '', HOME: '/root' })
  t.equal(config.PORT, 3000)
  t.notOk('PATH' in config)
})

const invalid: Array<[string, Record<string, string>, RegExp]> = [
  ['a port out of range', { PORT: '70000' }, /^Invalid configuration: PORT must be <= 65535$/],
  ['a port that is not a number', { PORT: 'abc' }, /PORT must be integer/],
  ['a short secret', { JWT_SECRET: 'short' }, /JWT_SECRET must NOT have fewer than 32 characters/],
  ['a secret under 32 bytes', { JWT_SECRET: 'é'.repeat(16).slice(0, 31) + 'x' }, /JWT_SECRET/],
  ['MONGODB_URL without JWT_SECRET', { MONGODB_URL: 'mongodb://db' }, /JWT_SECRET is required when MONGODB_URL is set/],
  ['an admin name without a password', { ADMIN_USERNAME: 'root' }, /ADMIN_USERNAME and ADMIN_PASSWORD must be set together/],
  [
    'an admin password under 12 characters',
    { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'short' },
    /ADMIN_PASSWORD must NOT have fewer than 12 characters/
  ],
  ['an unknown log level', { LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
  ['a write concern that is neither majority nor a number', { WRITE_CONCERN_W: 'all' }, /WRITE_CONCERN_W must be "majority" or a number/],
  ['a boolean that is not one', { WRITE_CONCERN_J: 'maybe' }, /WRITE_CONCERN_J must be boolean/],
  ['a database name with a slash', { MONGODB_DATABASE: 'a/b' }, /MONGODB_DATABASE must match pattern/]
]

for (const [what, env, message] of invalid) {
  t.test(`refuses ${what} with one line naming the variable`, async (t) => {
    const err = t.throws(() => loadConfig(env)) as Error
    t.type(err, ConfigError)
    t.match(err.message, message)
    t.notMatch(err.message, /\n/)
  })
}

t.test('HEADERS_TIMEOUT_MS may not exceed REQUEST_TIMEOUT_MS', async (t) => {
  t.throws(() => loadConfig({ REQUEST_TIMEOUT_MS: 5000, HEADERS_TIMEOUT_MS: 6000 }), { name: 'ConfigError', message: /HEADERS_TIMEOUT_MS/ })
  t.doesNotThrow(() => loadConfig({ REQUEST_TIMEOUT_MS: 5000, HEADERS_TIMEOUT_MS: 5000 }))
})

t.test('a password hash cost below the production floor is refused unless NODE_ENV=test', async (t) => {
  const weak = { MONGODB_URL: 'mongodb://db:27017', JWT_SECRET: secret, PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_TIME_COST: '1' }
  for (const nodeEnv of [undefined, 'production', 'development']) {
    t.throws(
      () => loadConfig({ ...weak, NODE_ENV: nodeEnv }),
      new ConfigError(
        'Invalid configuration: PASSWORD_HASH_MEMORY_KIB must be >= 19456 and PASSWORD_HASH_TIME_COST >= 2 (weaker only with NODE_ENV=test)'
      ),
      `NODE_ENV=${String(nodeEnv)}: refused`
    )
  }
  t.throws(
    () => loadConfig({ ...weak, PASSWORD_HASH_MEMORY_KIB: '65536', NODE_ENV: 'production' }),
    ConfigError,
    'one pass is too few on its own'
  )
  t.throws(
    () => loadConfig({ ...weak, PASSWORD_HASH_TIME_COST: '3', NODE_ENV: 'production' }),
    ConfigError,
    '1 MiB is too little on its own'
  )
  t.equal(loadConfig({ ...weak, NODE_ENV: 'test' }).PASSWORD_HASH_MEMORY_KIB, 1024, 'tests may hash cheaply')
  const floor = loadConfig({ ...weak, PASSWORD_HASH_MEMORY_KIB: '19456', PASSWORD_HASH_TIME_COST: '2', NODE_ENV: 'production' })
  t.same([floor.PASSWORD_HASH_MEMORY_KIB, floor.PASSWORD_HASH_TIME_COST], [19456, 2], 'the floor itself is allowed')
  const byDefault = loadConfig({ MONGODB_URL: 'mongodb://db:27017', JWT_SECRET: secret })
  t.same([byDefault.PASSWORD_HASH_MEMORY_KIB, byDefault.PASSWORD_HASH_TIME_COST], [65536, 3], 'default: 64 MiB, 3 passes')
})

t.test('a number in the environment that is not finite, or an integer past 2^53 - 1, is refused naming the variable', async (t) => {
  const cases: Array<[string, string]> = [
    ['QUERY_MAX_TIME_MS', '1e400'], ['LOGIN_MAX_PER_IP', 'Infinity'], ['RATE_LIMIT_MAX', '9007199254740993'],
    ['EMBEDDED_SCAN_US_PER_EVENT', '1e400'], ['INGEST_QUEUE_LIMIT', '1e300']
  ]
  for (const [name, value] of cases) {
    t.throws(() => loadConfig({ [name]: value }), { name: 'ConfigError', message: new RegExp(`${name} must be`) }, `${name}=${value}`)
  }
  t.equal(loadConfig({ QUERY_MAX_TIME_MS: '1e4' }).QUERY_MAX_TIME_MS, 10000, 'a finite number in exponent form is fine')
})
