/**
 * The capacity model of docs/scaling.md, as arithmetic only: measured costs in, a projection out. Kept apart
 * from the measuring script (bench/capacity.ts) so that a test can check the arithmetic on inputs it chooses.
 */

/** What one event costs, each figure measured (bench/capacity.ts says where each came from). */
export interface MeasuredCosts {
  /** Service CPU per event, in core-milliseconds, by how events arrive. */
  serviceCpuMsPerEvent: { single: number, batched: number }
  /** Average BSON size of one stored event document. */
  eventBytes: number
  /** Per index of the events collection: bytes of one entry (its key fields' BSON plus the record id). */
  indexEntryBytes: Record<string, number>
  /** The Merkle tree's storage (merkle_tiles) per event. */
  treeBytesPerEvent: number
  /** One signed checkpoint document (merkle_checkpoints): one per active tenant per CHECKPOINT_INTERVAL_MS. */
  checkpointBytes: number
}

/** What the operator plans for, and the few figures that are assumptions, each stated with its source. */
export interface Plan {
  eventsPerSecond: number
  retentionDays: number
  /** Share of single events (POST /events) in the load; the rest come in batches. */
  singleShare: number
  /** Write rate one shard (one replica set's primary) is planned to take, events/s. */
  shardEventsPerSecond: number
  /** Storage one shard is planned to hold (data and indexes, one copy), bytes. */
  shardStorageBytes: number
  /** Busy share of a core at which a replica is considered full (headroom for bursts, GC, failover). */
  coreUtilization: number
  /** Tenants writing all the time: each adds a checkpoint per interval. */
  activeTenants: number
  checkpointIntervalMs: number
  /** Copies of every byte: the members of a replica set that hold data. */
  copies: number
}

export interface Projection {
  eventsPerSecond: number
  serviceCores: number
  eventsPerMonth: number
  /** One copy: events, indexes, tree and checkpoints written per 30 days. */
  storagePerMonthBytes: number
  /** One copy, after `retentionDays`: everything kept. */
  retainedBytes: number
  /** One copy, after `retentionDays`: the indexes alone (what should fit in RAM across the shards). */
  retainedIndexBytes: number
  /** All copies. */
  retainedBytesAllCopies: number
  shardsForWrites: number
  shardsForStorage: number
  shards: number
}

const SECONDS_PER_DAY = 86400
const DAYS_PER_MONTH = 30

/** Bytes every stored event adds: the document, one entry per index, and its share of the tree. */
export function bytesPerEvent (costs: MeasuredCosts): { document: number, indexes: number, tree: number } {
  const indexes = Object.values(costs.indexEntryBytes).reduce((sum, bytes) => sum + bytes, 0)
  return { document: costs.eventBytes, indexes, tree: costs.treeBytesPerEvent }
}

export function project (costs: MeasuredCosts, plan: Plan): Projection {
  const cpuMs = plan.singleShare * costs.serviceCpuMsPerEvent.single + (1 - plan.singleShare) * costs.serviceCpuMsPerEvent.batched
  // core-ms per second over 1000 ms per core, at the planned utilization
  const serviceCores = Math.ceil(plan.eventsPerSecond * cpuMs / 1000 / plan.coreUtilization)
  const perEvent = bytesPerEvent(costs)
  const eventsPerDay = plan.eventsPerSecond * SECONDS_PER_DAY
  const checkpointsPerDay = plan.activeTenants * SECONDS_PER_DAY * 1000 / plan.checkpointIntervalMs
  const bytesPerDay = eventsPerDay * (perEvent.document + perEvent.indexes + perEvent.tree) + checkpointsPerDay * costs.checkpointBytes
  const retainedBytes = bytesPerDay * plan.retentionDays
  const retainedIndexBytes = eventsPerDay * plan.retentionDays * perEvent.indexes
  const shardsForWrites = Math.ceil(plan.eventsPerSecond / plan.shardEventsPerSecond)
  const shardsForStorage = Math.ceil(retainedBytes / plan.shardStorageBytes)
  return {
    eventsPerSecond: plan.eventsPerSecond,
    serviceCores,
    eventsPerMonth: eventsPerDay * DAYS_PER_MONTH,
    storagePerMonthBytes: bytesPerDay * DAYS_PER_MONTH,
    retainedBytes,
    retainedIndexBytes,
    retainedBytesAllCopies: retainedBytes * plan.copies,
    shardsForWrites,
    shardsForStorage,
    shards: Math.max(1, shardsForWrites, shardsForStorage)
  }
}

/** 1.5 TiB, 12.3 GiB...: binary units, as storage is bought. */
export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit] as string}`
}

export function projectionTable (projections: Projection[]): string {
  const rows = projections.map(
    (p) =>
      `| ${p.eventsPerSecond.toLocaleString('en')} | ${p.serviceCores} | ${formatBytes(p.storagePerMonthBytes)} | ` +
      `${formatBytes(p.retainedBytes)} (${formatBytes(p.retainedBytesAllCopies)} in all copies) | ${formatBytes(p.retainedIndexBytes)} | ` +
      `${p.shards} (writes ${p.shardsForWrites}, storage ${p.shardsForStorage}) |`
  )
  return [
    '| events/s | service cores | storage per month (one copy) | kept at the retention (one copy) | indexes at the retention | shards |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows
  ].join('\n')
}
