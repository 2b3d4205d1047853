import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Checkpoint } from './checkpoint.js'
import { verifyLog, type VerifyInput, type VerifyResult } from './verify.js'
import { fromService, keyList, parseNdjson, UsageError } from './online.js'
import { checkReceipts, logForReceipts, parseReceipts, type Receipt, type ReceiptProblem } from './receipt.js'
import { checkSigned } from './checkpoint.js'
import { horizonMessage } from './horizon.js'
import { checkWitnessPolicy, parseWitnessPolicy, type WitnessPolicy } from './witness-policy.js'

const USAGE = `Verifies a tenant's audit log against a signed checkpoint. Exit 0: verified; 1: a problem, named; 2: could not
verify (could not run, or exported events the checkpoint does not cover: take one after the export).

  npm run verify -- --url URL --token TOKEN [--keys keys.json] [--trusted-checkpoint FILE] [--wait-ms 10000]
  npm run verify -- --export events.ndjson --checkpoint checkpoint.json --keys keys.json [--trusted-checkpoint FILE]
  either, with --receipts receipts.json: also the receipts kept from ingest (offline, --checkpoint may then be left out)
  either, with --witness-policy policy.json: the checkpoint must carry cosignatures of a quorum of the policy's witnesses

Online, it reads the export, the newest checkpoint and the tree's leaf hashes (its tiles) from the service, and,
with a kept checkpoint, the service's consistency proof. Without --keys it trusts GET /integrity/keys: keep a
copy of the keys outside the service and pass it. Offline, the export (GET /events/export: every event, in any order),
the checkpoint (GET /integrity/checkpoint, taken after the export) and the keys (GET /integrity/keys) are files.

After retention deleted a tenant's oldest events, verify online: it reads the signed retention horizon
(GET /integrity/retention-horizon) and takes the expired events' leaf hashes from the tiles, so the root
still checks; a seq missing above the horizon, a horizon not signed, or one the retention entry of the log it
names does not justify (other days, recorded after it, or made under a legal hold) is a problem. An erased
field that no erasure entry of the log names is one too. Offline, the export alone cannot make the root
without the expired events.

--receipts FILE: the receipts the service answered at ingest, kept (a JSON array or JSON lines of the
\`receipt\` objects). Each must be signed by a published key, and the log must hold, at its seq, the event whose
recomputed leaf hash it promised. A receipt the log contradicts (seq missing, leaf different) is a problem
even when every checkpoint verifies: it shows a history rewritten after the promise.

--witness-policy FILE: {"witnesses": [{"vkey": "<name>+<id>+<key>"}, ...], "quorum": k} (k defaults to all).
The checkpoint verified against must carry valid C2SP cosignatures (tlog-cosignature v1) of at least k of them;
online it waits (up to --wait-ms) for the newest checkpoint to be cosigned. Without the quorum: exit 1. A
rewrite, or a split view shown to you alone, then needs k witnesses to collude with the operator.`

async function main (argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      export: { type: 'string' },
      checkpoint: { type: 'string' },
      keys: { type: 'string' },
      'trusted-checkpoint': { type: 'string' },
      receipts: { type: 'string' },
      'witness-policy': { type: 'string' },
      'wait-ms': { type: 'string', default: '10000' },
      help: { type: 'boolean' }
    }
  })
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  const keys = values.keys === undefined ? undefined : keyList(JSON.parse(readFileSync(values.keys, 'utf8')))
  const trusted =
    values['trusted-checkpoint'] === undefined ? undefined : (JSON.parse(readFileSync(values['trusted-checkpoint'], 'utf8')) as Checkpoint)
  const receipts = values.receipts === undefined ? undefined : parseReceipts(readFileSync(values.receipts, 'utf8'))
  const policy = values['witness-policy'] === undefined ? undefined : parseWitnessPolicy(readFileSync(values['witness-policy'], 'utf8'))
  let input: VerifyInput
  if (values.url !== undefined) {
    if (values.token === undefined) throw new UsageError('--url needs --token')
    const accept = policy === undefined ? undefined : (found: Checkpoint): boolean => checkWitnessPolicy(found, policy).ok
    input = await fromService(values.url, values.token, keys, trusted, Number(values['wait-ms']), accept)
  } else {
    if (values.export === undefined || keys === undefined || (values.checkpoint === undefined && receipts === undefined)) {
      throw new UsageError('give --url and --token, or --export, --checkpoint and --keys (or --export, --keys and --receipts)')
    }
    const events = parseNdjson(readFileSync(values.export, 'utf8'))
    if (values.checkpoint === undefined) return reportReceipts(receipts ?? [], checkedReceipts(receipts ?? [], { events, keys }))
    input = { events, checkpoint: JSON.parse(readFileSync(values.checkpoint, 'utf8')), keys, trusted }
  }
  // the receipts first: a contradicted receipt is evidence whatever the checkpoints say
  const receiptsExit = receipts === undefined ? 0 : reportReceipts(receipts, checkedReceipts(receipts, input))
  const logExit = report(verifyLog(input))
  const policyExit = policy === undefined ? 0 : reportPolicy(input.checkpoint, policy)
  // a contradicted receipt is evidence (1), even where the log itself could not be verified (2)
  return receiptsExit === 1 || policyExit === 1 ? 1 : logExit
}

/** The kept receipts against the log: below a signed retention horizon, against the tree's leaves (online). */
function checkedReceipts (receipts: Receipt[], input: Pick<VerifyInput, 'events' | 'keys' | 'treeLeaves' | 'horizon'> & {
  checkpoint?: VerifyInput['checkpoint']
}): ReceiptProblem[] {
  const horizon = input.horizon !== undefined && checkSigned(horizonMessage(input.horizon), input.horizon, input.keys) === 'ok'
    ? input.horizon.horizon
    : undefined
  const tenant = input.checkpoint?.tenant ?? (input.events[0]?.tenant as string | undefined) ?? receipts[0]?.tenant ?? ''
  return checkReceipts(receipts, tenant, logForReceipts(input.events, input.treeLeaves, horizon), input.keys)
}

/** The witness policy against the checkpoint the log was verified with: its cosignatures must make the quorum. */
function reportPolicy (checkpoint: Checkpoint, policy: WitnessPolicy): number {
  const check = checkWitnessPolicy(checkpoint, policy)
  console.log(check.ok ? `witnessed: ${check.detail}` : `FAILED: not witnessed: ${check.detail}`)
  return check.ok ? 0 : 1
}

function reportReceipts (receipts: Receipt[], problems: ReceiptProblem[]): number {
  for (const { kind, seq, detail } of problems) console.log(`FAILED: ${kind}${seq === undefined ? '' : ` at seq ${seq}`}: ${detail}`)
  if (problems.length > 0) return 1
  console.log(`${receipts.length} receipts hold: each signed by a published key, each seq holds the event it promised`)
  return 0
}

function report (result: VerifyResult): number {
  if (result.ok) {
    const { events, holes, erased, expired, storedAfterExport, treeSize, root, horizon } = result.verified
    const later = storedAfterExport > 0 ? `; ${storedAfterExport} events stored while the export ran, not verified` : ''
    console.log(
      `verified ${events} events${erased > 0 ? ` (${erased} with erased fields)` : ''}, tree size ${treeSize}, root ${root}${holes > 0 ? `; ${holes} recorded holes` : ''}${later}`
    )
    if (horizon !== undefined) {
      console.log(
        `retention horizon at seq ${horizon.horizon}, signed: ${expired} events below it expired by policy at ${horizon.expired_at} under ${horizon.days} days` +
          (horizon.policy_seq !== undefined
            ? `, as the retention entry at seq ${horizon.policy_seq} of the log allows`
            : horizon.policy === 'in the log'
              ? ", as the log's recorded retention policy allows"
              : " (the policy change is not in the log: the operator's default, or itself expired)")
      )
    }
    if (result.verified.uncovered !== undefined) {
      const { first, last, count } = result.verified.uncovered
      console.log(
        `NOT VERIFIED: ${count} exported events from seq ${first} on are not covered by this checkpoint (tree size ${treeSize}): ` +
          `take one after the export (GET /integrity/checkpoint?min_tree_size=${last}) and run again`
      )
      return 2
    }
    return 0
  }
  const { kind, seq, detail } = result.problem
  console.log(`FAILED: ${kind}${seq === undefined ? '' : ` at seq ${seq}`}: ${detail}`)
  return 1
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: unknown) => {
  console.error(err instanceof UsageError ? `${err.message}\n\n${USAGE}` : `verify could not run: ${(err as Error).message}`)
  process.exitCode = 2
})
