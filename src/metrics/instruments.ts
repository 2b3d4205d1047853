import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Seconds: from a cached-token GET (well under 1 ms) to a scan of the whole log on FerretDB. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Events per bulk insert: 1 (nobody to share with) up to GROUP_COMMIT_MAX_BATCH's ceiling (10000). */
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000]

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const
export const EVENT_OUTCOMES = ['created', 'duplicate', 'error'] as const

/**
 * Every instrument `GET /metrics` reports, on a registry of this app's own (tests build several apps in
 * one process). Label values come from fixed sets or route patterns only.
 */
export class AuditMetrics {
  readonly registry = new Registry()

  readonly httpRequests = new Counter({
    name: 'auditlog_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status class.',
    labelNames: ['method', 'route', 'status_class'] as const,
    registers: [this.registry]
  })

  readonly httpDuration = new Histogram({
    name: 'auditlog_http_request_duration_seconds',
    help: 'Time from receiving a request to its answer being sent, by method, route pattern and status class.',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry]
  })

  readonly batchSize = new Histogram({
    name: 'auditlog_group_commit_batch_size',
    help: 'Events in one bulk insert of the write path (group commit).',
    buckets: BATCH_SIZE_BUCKETS,
    registers: [this.registry]
  })

  readonly events = new Counter({
    name: 'auditlog_events_total',
    help: 'Events settled by the write path: created (stored), duplicate (an event_id already stored) or error (refused per item).',
    labelNames: ['outcome'] as const,
    registers: [this.registry]
  })

  readonly ingestRefusals = new Counter({
    name: 'auditlog_ingest_refusals_total',
    help: 'Events refused before reaching the database because the ingest queue was full (answered 503).',
    registers: [this.registry]
  })

  readonly dbWriteDuration = new Histogram({
    name: 'auditlog_db_write_duration_seconds',
    help: 'Database write commands (insert, update, delete, findAndModify), from send to answer.',
    labelNames: ['command', 'result'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry]
  })

  readonly dbQueryDuration = new Histogram({
    name: 'auditlog_db_query_duration_seconds',
    help: 'Database read commands (find, getMore, aggregate, count, distinct), from send to answer.',
    labelNames: ['command', 'result'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry]
  })

  readonly scanRefusals = new Counter({
    name: 'auditlog_scan_admission_refusals_total',
    help: 'Reads of the event log refused by admission control (503 QUERY_CAPACITY).',
    registers: [this.registry]
  })

  readonly loginFailures = new Counter({
    name: 'auditlog_login_failures_total',
    help: 'Logins refused for a wrong username, password or a disabled user (401 AUTH_LOGIN_FAILED).',
    registers: [this.registry]
  })

  readonly loginLimiterRefusals = new Counter({
    name: 'auditlog_login_limiter_refusals_total',
    help: 'Logins refused by a limiter: failures per user and address (AUTH_TOO_MANY_ATTEMPTS), attempts per address (RATE_LIMITED), hashing capacity (SERVICE_OVERLOADED).',
    labelNames: ['code'] as const,
    registers: [this.registry]
  })

  readonly errors = new Counter({
    name: 'auditlog_errors_total',
    help: "Error answers by the service's error code (the Error schema's enum).",
    labelNames: ['code'] as const,
    registers: [this.registry]
  })

  /** Read when scraped, from the write path and the admission control. */
  readonly queueDepth: Gauge
  readonly scansInProgress: Gauge

  constructor (gauges: { queueDepth: () => number; scansInProgress: () => number }) {
    // process_* and nodejs_* (CPU, memory, event loop lag, GC, handles), under their usual names
    collectDefaultMetrics({ register: this.registry })
    this.queueDepth = new Gauge({
      name: 'auditlog_ingest_queue_depth',
      help: 'Events accepted by the write path and not yet settled (bounded by INGEST_QUEUE_LIMIT).',
      registers: [this.registry],
      collect () {
        this.set(gauges.queueDepth())
      }
    })
    this.scansInProgress = new Gauge({
      name: 'auditlog_scans_in_progress',
      help: 'Units of reads of the event log admitted and running now, each read at its cost (bounded by QUERY_MAX_CONCURRENT).',
      registers: [this.registry],
      collect () {
        this.set(gauges.scansInProgress())
      }
    })
  }
}
