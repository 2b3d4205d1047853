import envSchema from 'env-schema'
import { Type, type Static } from '@sinclair/typebox'
import { BATCH_BODY_LIMIT } from './http/body-limits.js'

/**
 * The least a deployment may configure: OWASP's Password Storage Cheat Sheet minimum for argon2id
 * (m = 19 MiB, t = 2). Below it only with NODE_ENV=test, so that tests that are not about hashing do not
 * pay 64 MiB × 3 passes per login (the check below refuses it otherwise).
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id
 */
export const MIN_PRODUCTION_HASH_COST = { memoryCost: 19456, timeCost: 2 }

/**
 * Every environment variable the service reads, with its default. This schema is the single place
 * configuration is defined: the table in docs/operations.md is generated from it (`npm run docs:config`,
 * scripts/config-table.ts; test/readme.test.ts fails when it is stale), and `loadConfig` validates it once
 * at boot. Values arrive as strings and are coerced (`"3000"` → 3000, `"true"` → true).
 */
export const ConfigSchema = Type.Object(
  {
    HOST: Type.String({ default: '127.0.0.1', description: 'Address to listen on (the Docker image sets 0.0.0.0).' }),
    PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'HTTP port.' }),
    LOG_LEVEL: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'Log level (logs are JSON lines on stdout).' }
    ),
    TRUST_PROXY: Type.Boolean({
      default: false,
      description: 'Trust X-Forwarded-For (set behind a reverse proxy so rate limits see client IPs).'
    }),

    MONGODB_URL: Type.Optional(
      Type.String({ minLength: 1, description: 'MongoDB connection string. Unset: start the embedded FerretDB under DATA_DIR.' })
    ),
    MONGODB_DATABASE: Type.String({
      default: 'auditlog',
      minLength: 1,
      maxLength: 63,
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'Database name.'
    }),
    DATA_DIR: Type.String({
      default: './data',
      description:
        'Where the embedded database, the generated token secret and bootstrap admin password are kept, and the checkpoint signing key unless SIGNING_KEY_FILE is set (so with MongoDB too).'
    }),
    FERRETDB_BIN: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'The FerretDB executable the embedded default starts (so do `npm test` and the benchmarks). Unset: .tools/bin/ferretdb in the project, built on first use by scripts/install-ferretdb.sh (needs Go).'
      })
    ),
    DB_TIMEOUT_MS: Type.Integer({
      default: 5000,
      minimum: 100,
      description:
        'How long a database operation may wait for a reachable server before the request gets 503 (a database that hangs rather than refuses is noticed within 0.5 s more). Readiness waits 1.5 s at most, whatever this is.'
    }),
    CLOCK_SKEW_MAX_MS: Type.Integer({
      default: 5000,
      minimum: 1,
      maximum: 86400000,
      description:
        "How far this replica's clock may be from the database server's (compared every 30 s) before readiness warns CLOCK_SKEW (still 200) and the log says so; auditlog_clock_skew_seconds has the measure."
    }),

    JWT_SECRET: Type.Optional(
      Type.String({
        minLength: 32,
        description: 'HS256 signing key, at least 32 bytes. Required with MONGODB_URL; the embedded default generates one under DATA_DIR.'
      })
    ),
    JWT_ISSUER: Type.String({ default: 'audit-log-service', minLength: 1, description: 'The `iss` claim signed and required.' }),
    JWT_AUDIENCE: Type.String({ default: 'audit-log-api', minLength: 1, description: 'The `aud` claim signed and required.' }),
    JWT_TTL: Type.Integer({ default: 900, minimum: 30, maximum: 86400, description: 'Access token lifetime in seconds.' }),
    AUTH_CACHE_MS: Type.Integer({
      default: 2000,
      minimum: 0,
      maximum: 5000,
      description: "How long a user's roles/disabled state (and an API key's) is cached; revocations take effect within this time."
    }),
    API_KEY_MAX_PER_TENANT: Type.Integer({
      default: 50,
      minimum: 1,
      maximum: 10000,
      description:
        'API keys one tenant may hold (expired ones count until revoked); POST /tenant/api-keys beyond it gets 409 API_KEY_LIMIT.'
    }),

    EVENT_TYPE_CACHE_MS: Type.Integer({
      default: 2000,
      minimum: 0,
      maximum: 60000,
      description:
        "How long each replica trusts the tenant's event type registry it read (schemas, strict mode); a change applies on every replica within this time."
    }),
    EVENT_TYPE_MAX_PER_TENANT: Type.Integer({
      default: 200,
      minimum: 1,
      maximum: 10000,
      description: 'Event types one tenant may register; PUT /tenant/event-types/{event_type} of a new type beyond it gets 409 EVENT_TYPE_LIMIT.'
    }),

    ADMIN_USERNAME: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'With ADMIN_PASSWORD: make sure this admin exists at startup.' })
    ),
    ADMIN_PASSWORD: Type.Optional(
      Type.String({ minLength: 12, maxLength: 1024, description: 'Password of ADMIN_USERNAME when it is created (12+ characters).' })
    ),
    ADMIN_TENANT: Type.String({
      default: 'default',
      minLength: 1,
      maxLength: 64,
      description: 'Tenant of the bootstrap admin, and of a login that names no tenant.'
    }),

    PASSWORD_HASH_MEMORY_KIB: Type.Integer({
      default: 65536,
      minimum: 64,
      maximum: 4194304,
      description: 'argon2id memory cost of password hashes, in KiB; at least 19456 (OWASP) unless NODE_ENV=test.'
    }),
    PASSWORD_HASH_TIME_COST: Type.Integer({
      default: 3,
      minimum: 1,
      maximum: 100,
      description: 'argon2id passes over that memory; at least 2 (OWASP) unless NODE_ENV=test.'
    }),
    NODE_ENV: Type.Optional(
      Type.String({
        description: '`test` allows password hash costs below the production floor (the tests set it); the Docker image sets `production`.'
      })
    ),

    LOGIN_MAX_FAILURES: Type.Integer({
      default: 10,
      minimum: 1,
      description: 'Failed logins allowed per username and client IP in LOGIN_WINDOW_S before that address gets 429 for that username.'
    }),
    LOGIN_USER_MAX_FAILURES: Type.Integer({
      default: 50,
      minimum: 1,
      description:
        'Failed logins allowed per username from all addresses in LOGIN_USER_WINDOW_S (bounds guessing spread over many addresses).'
    }),
    LOGIN_USER_WINDOW_S: Type.Integer({
      default: 60,
      minimum: 1,
      maximum: 3600,
      description: 'Window of LOGIN_USER_MAX_FAILURES, in seconds: kept short, so nobody can lock a user out for long.'
    }),
    LOGIN_KNOWN_ADDRESS_S: Type.Integer({
      default: 2592000,
      minimum: 0,
      maximum: 31536000,
      description:
        'How long, in seconds, a client IP a user logged in from stays exempt from LOGIN_USER_MAX_FAILURES for that user (per instance); 0: no address is.'
    }),
    LOGIN_MAX_PER_IP: Type.Integer({ default: 60, minimum: 1, description: 'Login attempts allowed per client IP in LOGIN_WINDOW_S.' }),
    LOGIN_WINDOW_S: Type.Integer({
      default: 900,
      minimum: 1,
      description: 'Window of LOGIN_MAX_FAILURES and LOGIN_MAX_PER_IP, in seconds.'
    }),
    LOGIN_CONCURRENCY: Type.Integer({
      default: 2,
      minimum: 1,
      description: 'Password hashes computed at once; more waiting logins get 503.'
    }),

    WRITE_CONCERN_W: Type.String({ default: 'majority', minLength: 1, description: '"majority" or a number of nodes.' }),
    WRITE_CONCERN_J: Type.Boolean({ default: true, description: 'Wait for the journal.' }),
    GROUP_COMMIT_MAX_BATCH: Type.Integer({
      default: 500,
      minimum: 1,
      maximum: 10000,
      description: 'Most events in one bulk insert (1 disables group commit).'
    }),
    GROUP_COMMIT_MAX_WAIT_MS: Type.Integer({
      default: 2,
      minimum: 0,
      maximum: 1000,
      description: 'Longest an event waits for others to share its bulk insert.'
    }),
    GROUP_COMMIT_MAX_IN_FLIGHT: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 64,
        description:
          'Bulk inserts written at once. Unset: 1 on FerretDB (SQLite has one writer: a second write only waits on its lock), 4 on MongoDB; the startup log says which.'
      })
    ),
    INGEST_QUEUE_LIMIT: Type.Integer({
      default: 20000,
      minimum: 1,
      description: 'Events waiting for the database before new ones get 503.'
    }),

    SEQUENCE_FOLD_MS: Type.Integer({
      default: 500,
      minimum: 10,
      maximum: 60000,
      description:
        'How often settled seq ranges are folded into the per-tenant counters while any are waiting (reads by afterSeq never wait for it); an idle folder looks about once a second.'
    }),
    SEQUENCE_STALE_MS: Type.Integer({
      default: 60000,
      minimum: 100,
      description:
        'How long a reserved seq range may stay unsettled before its missing seqs are recorded as holes of a write that did not complete.'
    }),

    CHECKPOINT_INTERVAL_MS: Type.Integer({
      default: 2000,
      minimum: 10,
      maximum: 3600000,
      description:
        "A tenant's new events are in a signed checkpoint within about this long; at most one checkpoint per tenant per interval."
    }),
    SIGNING_KEY_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Ed25519 private key (PKCS#8 PEM) that signs checkpoints; every replica must use the same file. Unset: DATA_DIR/signing-key.pem, generated (mode 0600) when missing.'
      })
    ),
    SIGNING_STATE_DIR: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Where the signer's durable record (the newest checkpoint signed and the highest seq receipted, per tenant) is kept: keep it with the key's custody, shared by every replica that shares the key. Unset: beside SIGNING_KEY_FILE."
      })
    ),
    SIGNING_RETIRED_KEYS: Type.String({
      default: '',
      description:
        'Comma-separated PEM files (public or private) of earlier signing keys: still published by GET /integrity/keys, so checkpoints signed before a rotation verify.'
    }),
    INGEST_RECEIPTS: Type.Boolean({
      default: true,
      description:
        'Answer every stored event with a signed receipt (tenant, seq, leaf hash, receipt time): one signature per bulk write and tenant. Off only to measure what receipts cost (bench W1).'
    }),
    AUDIT_LOG_ORIGIN: Type.String({
      default: 'audit-log.example',
      minLength: 1,
      maxLength: 190,
      pattern: '^[!-*,-~]*[!-*,-.0-~]$',
      description:
        "The C2SP origin of this service's logs, a schema-less URL such as `audit.example.com`: each tenant's log is `<origin>/<tenant>` (percent-encoded), the first line of its checkpoints and the name of the key that signs them. Witnesses know a log by it: set it once, before a witness is configured, and keep it across key rotations. Printable ASCII without spaces or `+`, not ending in `/`."
    }),
    WITNESSES: Type.String({
      default: '',
      description:
        'Independent witnesses that cosign every tenant\'s checkpoints (C2SP tlog-witness): a JSON array of `{"url": "<submission prefix>", "vkey": "<the witness\'s C2SP cosignature/v1 verifier key>"}`. Each witness must know each tenant\'s log (its origin and `GET /integrity/keys` verifier key). Empty: no witnessing.'
    }),
    WITNESS_QUORUM: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 100,
      description:
        'How many of WITNESSES must cosign a checkpoint before it is served as witnessed (`witnessed: true`); 0: all of them. At most the number of witnesses.'
    }),
    WITNESS_ALLOW_HOSTS: Type.String({
      default: '',
      description: 'Comma-separated host names (or IPs) witnesses may be reached at over plain http (tests, a witness in the cluster); others need https.'
    }),
    WITNESS_TIMEOUT_MS: Type.Integer({
      default: 10000,
      minimum: 100,
      maximum: 120000,
      description: 'How long a witness has to answer a submission before it counts as failed.'
    }),
    WITNESS_RETRY_BASE_MS: Type.Integer({
      default: 1000,
      minimum: 1,
      maximum: 3600000,
      description: 'Delay before a failed submission to a witness is tried again; each further failure doubles it (with jitter), up to WITNESS_RETRY_MAX_MS.'
    }),
    WITNESS_RETRY_MAX_MS: Type.Integer({ default: 300000, minimum: 1, maximum: 86400000, description: 'Cap on the delay between submissions to a witness that fails.' }),

    QUERY_MAX_CONCURRENT: Type.Integer({
      default: 4,
      minimum: 1,
      description:
        'Reads of the event log running at once on this instance, in plain reads: a page of GET /events or one event counts 1, an export or a completeness check 2, a stream or webhook catching up from the database 1 per page. Beyond it a read waits its turn (QUERY_QUEUE_MS), the tenant holding the least served first.'
    }),
    QUERY_MAX_CONCURRENT_PER_TENANT: Type.Integer({
      default: 2,
      minimum: 1,
      description:
        "Of those, at most this many for one tenant at once; a request beyond it, counting the tenant's requests running and waiting, gets 503 QUERY_CAPACITY at once."
    }),
    QUERY_QUEUE_MS: Type.Integer({
      default: 2000,
      minimum: 0,
      maximum: 60000,
      description:
        'How long a read waits for its turn while the instance is at QUERY_MAX_CONCURRENT before 503 QUERY_CAPACITY with Retry-After; 0 refuses at once.'
    }),
    QUERY_MAX_TIME_MS: Type.Integer({ default: 5000, minimum: 1, description: 'Server-side time limit for one query.' }),
    EMBEDDED_SCAN_US_PER_EVENT: Type.Number({
      default: 120,
      exclusiveMinimum: 0,
      maximum: 1000000,
      description:
        'On FerretDB (the embedded default), what one read costs per stored event, in microseconds (the slowest read at 5,000 events in bench/embedded-reads.ts, shared machine): past QUERY_MAX_TIME_MS divided by this, the service warns that reads no longer fit.'
    }),
    REQUEST_TIMEOUT_MS: Type.Integer({
      default: 30000,
      minimum: 1000,
      maximum: 3600000,
      description: 'Longest time to receive a whole request, headers and body; a slower client gets 408 and the connection is closed.'
    }),
    HEADERS_TIMEOUT_MS: Type.Integer({
      default: 10000,
      minimum: 1000,
      maximum: 3600000,
      description: 'Longest time to receive the request headers (at most REQUEST_TIMEOUT_MS).'
    }),
    CONNECTION_TIMEOUT_MS: Type.Integer({
      default: 600000,
      minimum: 1000,
      description:
        'A connection on which nothing is sent or received for this long is closed (above the longest export wait, QUERY_MAX_TIME_MS × 60).'
    }),
    BODY_LIMIT: Type.Integer({
      default: BATCH_BODY_LIMIT,
      minimum: 1024,
      description:
        'Largest request body in bytes on any route: a ceiling over the per-route limits (login and users 8 KiB, one event 48 KiB, a batch of 1000).'
    }),
    BATCH_BYTES_IN_FLIGHT: Type.Integer({
      default: 32 * 1024 * 1024,
      minimum: 65536,
      description:
        'Bytes of batch bodies received and processed at once; a batch beyond it gets 503 with Retry-After (one batch alone is always taken).'
    }),
    RATE_LIMIT_MAX: Type.Integer({
      default: 0,
      minimum: 0,
      description: 'Requests per minute per client IP on all routes; 0 disables (put limits at the gateway).'
    }),
    API_KEY_RATE_LIMIT_MAX: Type.Integer({
      default: 6000,
      minimum: 0,
      maximum: 10000000,
      description:
        "Requests per minute per API key, counted instead of the client IP's (RATE_LIMIT_MAX) for requests the key authenticates; 0 disables."
    }),
    METRICS_TOKEN: Type.Optional(
      Type.String({
        minLength: 32,
        description: 'Bearer token of GET /metrics (Prometheus), at least 32 characters; unset, /metrics answers 401 to everyone.'
      })
    ),
    RETENTION_DEFAULT_DAYS: Type.Integer({
      default: 0,
      minimum: 0,
      description:
        'Retention of a tenant that set none, in days; 0 keeps events forever. Otherwise within RETENTION_MIN_DAYS..RETENTION_MAX_DAYS.'
    }),
    RETENTION_MIN_DAYS: Type.Integer({
      default: 1,
      minimum: 1,
      description: 'Shortest retention a tenant admin may set (PUT /tenant/retention), in days; 0 (forever) is always allowed.'
    }),
    RETENTION_MAX_DAYS: Type.Integer({
      default: 3650,
      minimum: 1,
      maximum: 100000,
      description: 'Longest retention a tenant admin may set, in days.'
    }),
    LEGAL_HOLD_LIFT_MODE: Type.Union([Type.Literal('two-admins'), Type.Literal('delay')], {
      default: 'two-admins',
      description:
        'How a legal hold is lifted: two-admins, one admin asks (PUT /tenant/legal-hold active false) and another approves; delay, ' +
        'any admin approves once LEGAL_HOLD_LIFT_DELAY_MS passed, and any admin can cancel it meanwhile.'
    }),
    LEGAL_HOLD_LIFT_DELAY_MS: Type.Integer({
      default: 259200000,
      minimum: 0,
      maximum: 31536000000,
      description: 'In delay mode, how long after it was asked for a lift of a legal hold can be approved (72 hours).'
    }),
    RETENTION_SWEEP_INTERVAL_MS: Type.Integer({
      default: 60000,
      minimum: 0,
      description: 'How often the retention sweeper starts a round; 0 never (no event is ever deleted).'
    }),
    RETENTION_BATCH_SIZE: Type.Integer({
      default: 50,
      minimum: 1,
      maximum: 100000,
      description: 'Most seqs the sweeper expires with one delete.'
    }),
    RETENTION_BATCH_PAUSE_MS: Type.Integer({
      default: 100,
      minimum: 0,
      maximum: 60000,
      description:
        "Shortest pause between two of the sweeper's batches; the pause is also at least 19 times as long as the batch took, so the sweeper deletes at most a twentieth of the time."
    }),
    RETENTION_LEASE_MS: Type.Integer({
      default: 300000,
      minimum: 1000,
      description:
        "Length of the sweeper's lease in the database: one replica sweeps per lease, and a replica that dies holds it no longer."
    }),
    ERASURE_INTERVAL_MS: Type.Integer({
      default: 5000,
      minimum: 0,
      description: 'How often the erasure worker looks for open erasure requests (POST /tenant/erasures); 0 never (requests wait).'
    }),
    ERASURE_BATCH_SIZE: Type.Integer({
      default: 100,
      minimum: 1,
      maximum: 10000,
      description: 'Most events the erasure worker rewrites per batch.'
    }),
    ERASURE_BATCH_PAUSE_MS: Type.Integer({
      default: 100,
      minimum: 0,
      maximum: 60000,
      description: "Shortest pause between two of the erasure worker's batches; the pause is also at least as long as the batch took."
    }),
    ERASURE_LEASE_MS: Type.Integer({
      default: 300000,
      minimum: 1000,
      description: "Length of the erasure worker's lease in the database: one replica erases per lease."
    }),
    AUDIT_ACCESS: Type.Boolean({
      default: true,
      description:
        "Record every read and administrative action as an audit.* event in the caller's tenant log; a read whose record cannot be stored fails (503). Turn off only where another layer records access."
    }),
    STREAM_MAX_PER_TENANT: Type.Integer({
      default: 5,
      minimum: 1,
      description: 'Open GET /events/stream connections allowed per tenant on this instance; more get 503 STREAM_CAPACITY.'
    }),
    STREAM_MAX_PER_INSTANCE: Type.Integer({
      default: 100,
      minimum: 1,
      description: 'Open GET /events/stream connections allowed on this instance, all tenants together.'
    }),
    STREAM_BUFFER_BYTES: Type.Integer({
      default: 1048576,
      minimum: 4096,
      description:
        'Bytes a stream may hold unread by its client; past it nothing more is read for that stream, and a client that does not read within STREAM_STALL_MS gets a resume hint and is disconnected (it loses nothing).'
    }),
    STREAM_STALL_MS: Type.Integer({
      default: 30000,
      minimum: 10,
      maximum: 600000,
      description:
        'How long a stream holding more than STREAM_BUFFER_BYTES for its client waits for it to read before ending with a resume hint.'
    }),
    STREAM_HEARTBEAT_MS: Type.Integer({
      default: 15000,
      minimum: 100,
      maximum: 300000,
      description: 'How often an idle stream sends a heartbeat comment, so proxies keep it open.'
    }),
    STREAM_POLL_MS: Type.Integer({
      default: 250,
      minimum: 10,
      maximum: 60000,
      description:
        'How often a replica checks whether a tenant with open streams or webhooks has newly settled events (one small read per tenant, not per stream).'
    }),
    STREAM_TAIL_EVENTS: Type.Integer({
      default: 10000,
      minimum: 0,
      description:
        'Recent settled events a replica keeps in memory per tenant with open streams or webhooks, so that followers at the tail read no database; 0 keeps none.'
    }),
    STREAM_TAIL_BYTES: Type.Integer({
      default: 33554432,
      minimum: 0,
      description: 'The most bytes of event JSON those tails hold, all tenants together; the oldest events go first.'
    }),
    STREAM_TAIL_MAX_AGE_MS: Type.Integer({
      default: 10000,
      minimum: 0,
      maximum: 600000,
      description:
        'How long an event is served from a tail after it was taken from the write or the database; an erasure waits this long before it is done, so that no replica still serves what it erased.'
    }),
    WEBHOOK_ALLOW_HOSTS: Type.String({
      default: '',
      description:
        'Comma-separated host names (or IPs) webhooks may reach over plain http and at private, loopback or link-local addresses; empty: https to public addresses only.'
    }),
    WEBHOOK_BATCH_MAX: Type.Integer({ default: 100, minimum: 1, maximum: 1000, description: 'Most events in one webhook delivery.' }),
    WEBHOOK_TIMEOUT_MS: Type.Integer({
      default: 10000,
      minimum: 100,
      maximum: 120000,
      description: 'How long a receiver has to answer a delivery before it counts as failed.'
    }),
    WEBHOOK_RETRY_BASE_MS: Type.Integer({
      default: 1000,
      minimum: 1,
      description:
        'Delay before the first retry of a failed delivery; each further retry doubles it (full jitter: a random delay between half and all of it).'
    }),
    WEBHOOK_RETRY_MAX_MS: Type.Integer({ default: 300000, minimum: 1, description: 'Cap on the delay between retries.' }),
    WEBHOOK_MAX_FAILURES: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 1000,
      description: 'Failed attempts in a row after which a subscription is paused (resume it with PATCH).'
    }),
    WEBHOOK_LEASE_MS: Type.Integer({
      default: 30000,
      minimum: 200,
      maximum: 600000,
      description: "How long a replica holds a subscription's delivery lease; another replica takes over once it lapses."
    }),
    WEBHOOK_MAX_PER_TENANT: Type.Integer({
      default: 20,
      minimum: 1,
      maximum: 10000,
      description: 'Webhook subscriptions one tenant may have (active or paused); POST /tenant/webhooks beyond it gets 409 WEBHOOK_LIMIT.'
    }),
    WEBHOOK_DELIVERIES_PER_TENANT: Type.Integer({
      default: 2,
      minimum: 1,
      maximum: 100,
      description:
        "Webhook deliveries of one tenant running at once on a replica (each a read of the event log and its POST); the tenant's other subscriptions wait their turn, so its webhooks cannot take the database from other tenants."
    }),
    WEBHOOK_SCAN_MS: Type.Integer({
      default: 1000,
      minimum: 10,
      maximum: 60000,
      description: 'How often a replica looks for subscriptions whose lease is free.'
    }),
    SHUTDOWN_GRACE_MS: Type.Integer({
      default: 10000,
      minimum: 0,
      description: 'How long shutdown waits for in-flight requests and pending writes.'
    })
  },
  { additionalProperties: false }
)

export type Config = Static<typeof ConfigSchema>
export type ConfigInput = Record<string, string | number | boolean | undefined>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Validates and coerces the environment once. Throws a ConfigError whose message is one line naming
 * the offending variable, e.g. `Invalid configuration: PORT must be <= 65535`.
 */
export function loadConfig (input: ConfigInput): Config {
  let config: Config
  try {
    // env: false — read only what we are given, so tests pass a plain object and never touch process.env
    config = envSchema<Config>({ schema: ConfigSchema, data: pickKnown(input), env: false, dotenv: false })
  } catch (err) {
    throw new ConfigError(
      `Invalid configuration: ${(err as Error).message.replace(/^env\/?/, '').replace(/^ must have required property/, 'missing required variable')}`
    )
  }
  // env-schema's Ajv coerces `1e400` to Infinity, which passes an integer without a maximum (docs/security.md, "Input")
  for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
    const value = (config as Record<string, unknown>)[name]
    if (typeof value !== 'number') continue
    const integer = (schema as { type?: unknown }).type === 'integer'
    if (integer ? !Number.isSafeInteger(value) : !Number.isFinite(value)) {
      throw new ConfigError(`Invalid configuration: ${name} must be a finite ${integer ? 'integer of at most 2^53 - 1' : 'number'}`)
    }
  }
  if (config.JWT_SECRET !== undefined && Buffer.byteLength(config.JWT_SECRET) < 32) {
    throw new ConfigError('Invalid configuration: JWT_SECRET must be at least 32 bytes')
  }
  if (config.MONGODB_URL !== undefined && config.JWT_SECRET === undefined) {
    throw new ConfigError('Invalid configuration: JWT_SECRET is required when MONGODB_URL is set (at least 32 bytes)')
  }
  if ((config.ADMIN_USERNAME === undefined) !== (config.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('Invalid configuration: ADMIN_USERNAME and ADMIN_PASSWORD must be set together')
  }
  if (config.HEADERS_TIMEOUT_MS > config.REQUEST_TIMEOUT_MS) {
    throw new ConfigError('Invalid configuration: HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS')
  }
  if (
    config.NODE_ENV !== 'test' &&
    (config.PASSWORD_HASH_MEMORY_KIB < MIN_PRODUCTION_HASH_COST.memoryCost ||
      config.PASSWORD_HASH_TIME_COST < MIN_PRODUCTION_HASH_COST.timeCost)
  ) {
    throw new ConfigError(
      `Invalid configuration: PASSWORD_HASH_MEMORY_KIB must be >= ${MIN_PRODUCTION_HASH_COST.memoryCost} and PASSWORD_HASH_TIME_COST >= ${MIN_PRODUCTION_HASH_COST.timeCost} (weaker only with NODE_ENV=test)`
    )
  }
  if (!/^(majority|\d+)$/.test(config.WRITE_CONCERN_W)) {
    throw new ConfigError('Invalid configuration: WRITE_CONCERN_W must be "majority" or a number')
  }
  if (config.RETENTION_MIN_DAYS > config.RETENTION_MAX_DAYS) {
    throw new ConfigError('Invalid configuration: RETENTION_MIN_DAYS must not exceed RETENTION_MAX_DAYS')
  }
  if (
    config.RETENTION_DEFAULT_DAYS !== 0 &&
    (config.RETENTION_DEFAULT_DAYS < config.RETENTION_MIN_DAYS || config.RETENTION_DEFAULT_DAYS > config.RETENTION_MAX_DAYS)
  ) {
    throw new ConfigError('Invalid configuration: RETENTION_DEFAULT_DAYS must be 0 or within RETENTION_MIN_DAYS..RETENTION_MAX_DAYS')
  }
  return config
}

/** The schema is closed, so take only its own keys from an environment that holds many others. */
function pickKnown (input: ConfigInput): ConfigInput {
  const picked: ConfigInput = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = input[key]
    // an empty variable (`FOO=`) means "not set", as in most shells' intent
    if (value !== undefined && value !== '') picked[key] = value
  }
  return picked
}

/** The config the app actually runs with: the embedded default has filled in the URL and secret. */
export type AppConfig = Config & { MONGODB_URL: string, JWT_SECRET: string, embedded: boolean }

/**
 * The one way to make an AppConfig: the database URL and signing secret the process settled on, and
 * whether the database is the embedded default. A value given in the config itself wins.
 */
export function toAppConfig (config: Config, resolved: { url: string, secret: string, embedded?: boolean }): AppConfig {
  return {
    ...config,
    MONGODB_URL: config.MONGODB_URL ?? resolved.url,
    JWT_SECRET: config.JWT_SECRET ?? resolved.secret,
    embedded: resolved.embedded ?? false
  }
}
