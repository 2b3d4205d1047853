import { openService, type BenchContext } from '../context.js'
import { prepareDatabase } from '../database.js'
import { selected } from '../options.js'
import type { RunningService } from '../service.js'
import { LIMITS, limitCase } from './limit.js'
import { singleEventCase, W1_CONNECTIONS, W1_MODES } from './w1-single.js'
import { batchCase, W2_BATCH_SIZES } from './w2-batch.js'
import { asBaseline, baselineKeyOf, recordCase, type WriteCase, type WriteRun } from './write-case.js'

/**
 * The limit, W1 and W2, interleaved: every repetition runs each limit case right before the service
 * cases compared with it (insertOne-50, W1 off and on at 50; the same at 200; insertMany-100, W2 of
 * 100; insertMany-1000, W2 of 1000). Other work on this shared machine then weighs on both sides of
 * each ratio alike. Each side writes to a database of its own; the services stay up for all repetitions.
 */
export async function runWriteSuite (context: BenchContext): Promise<void> {
  const { options, results, log } = context
  const services: RunningService[] = []
  try {
    const limitDb = selected(options, 'limit') ? await prepareDatabase(context.database.client, 'limit') : undefined
    // started side by side: each start compiles the service under tsx, which takes seconds here
    const [w2, ...w1] = await Promise.all([
      selected(options, 'W2') ? openService(context, 'w2') : undefined,
      ...(selected(options, 'W1') ? W1_MODES : []).map(async (mode) => ({
        mode,
        ...(await openService(context, `w1_${mode.key}`, { ...mode.env }))
      }))
    ])
    for (const opened of [w2, ...w1]) if (opened !== undefined) services.push(opened.service)
    // --baseline: the same W1 (group commit on) and W2 against the other build, each run right before the current one
    const baseline = context.baselineServer
    const [w1Baseline, w2Baseline] = baseline === undefined
      ? [undefined, undefined]
      : await Promise.all([
        selected(options, 'W1') ? openService(context, 'w1_on_baseline', {}, baseline) : undefined,
        selected(options, 'W2') ? openService(context, 'w2_baseline', {}, baseline) : undefined
      ])
    for (const opened of [w1Baseline, w2Baseline]) if (opened !== undefined) services.push(opened.service)
    const withBaseline = (current: WriteCase, other: WriteCase | undefined): WriteCase[] =>
      other === undefined ? [current] : [asBaseline(other), { ...current, baselineKey: baselineKeyOf(current.key) }]

    const order: WriteCase[] = []
    for (const connections of W1_CONNECTIONS) {
      if (limitDb !== undefined) order.push(limitCase(context, limitDb, LIMITS[`insertOne-${connections}`]))
      for (const { mode, service, db } of w1) {
        const other =
          mode.key === 'on' && w1Baseline !== undefined
            ? singleEventCase(context, w1Baseline.service, w1Baseline.db, mode, connections)
            : undefined
        order.push(...withBaseline(singleEventCase(context, service, db, mode, connections), other))
      }
    }
    for (const size of W2_BATCH_SIZES) {
      if (limitDb !== undefined) order.push(limitCase(context, limitDb, LIMITS[`insertMany-${size}`]))
      if (w2 !== undefined) {
        order.push(
          ...withBaseline(
            batchCase(context, w2.service, w2.db, size),
            w2Baseline && batchCase(context, w2Baseline.service, w2Baseline.db, size)
          )
        )
      }
    }

    const runs = new Map<WriteCase, WriteRun[]>(order.map((writeCase) => [writeCase, []]))
    for (let rep = 0; rep < options.repetitions; rep++) {
      log(`repetition ${rep + 1} of ${options.repetitions}`)
      for (const writeCase of order) runs.get(writeCase)?.push(await writeCase.run())
    }
    // limits first: the service figures are recorded beside them
    for (const writeCase of [...order].sort((a, b) => Number(b.workload === 'limit') - Number(a.workload === 'limit'))) {
      recordCase(results, writeCase, runs.get(writeCase) ?? [])
    }
  } finally {
    await Promise.all(services.map((service) => service.stop()))
  }
}
