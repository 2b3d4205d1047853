import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import { LegalHoldInputSchema, LegalHoldSchema, RetentionInputSchema, RetentionPolicySchema } from '../schemas/tenant.js'
import { auditPolicyRead } from '../plugins/app/audit/entries.js'
import { recordEntry, type AuditEntry } from '../plugins/app/audit/audit-trail.js'
import { requestOrigin } from '../http/request-origin.js'
import { LegalHoldApprovalError, NotFoundError, RetentionLockedError, ValidationFailedError } from '../errors.js'
import { USER_BODY_LIMIT } from '../http/body-limits.js'
import {
  legalHoldLiftCancelled,
  legalHoldLifted,
  legalHoldLiftRequested,
  legalHoldSet,
  retentionChanged,
  type LiftMode
} from '../plugins/app/retention/policy-entries.js'

export interface TenantRoutesOptions {
  /** RETENTION_MIN_DAYS, RETENTION_MAX_DAYS */
  minDays: number
  maxDays: number
  /** LEGAL_HOLD_LIFT_MODE, LEGAL_HOLD_LIFT_DELAY_MS */
  liftMode: LiftMode
  liftDelayMs: number
}

/** How long a policy keeps events: 0 days is forever, the longest of all. */
function keptDays (days: number): number {
  return days === 0 ? Number.POSITIVE_INFINITY : days
}

/** The tenant's compliance settings, for its admins: how long events are kept, and the legal hold that stops deletion. */
const tenantRoutes: FastifyPluginAsyncTypebox<TenantRoutesOptions> = async function tenantRoutes (fastify, options) {
  const admin = { roles: ['admin' as const] }

  /**
   * Writes the step into the tenant's log before it takes effect, and answers its seq: retention and legal
   * hold change only through entries of the log (written whatever AUDIT_ACCESS says; a failure is a 503 and
   * changes nothing).
   */
  async function record (request: FastifyRequest, entry: AuditEntry): Promise<number> {
    return await recordEntry(fastify.eventWriter, request.principal, requestOrigin(request), entry)
  }

  async function currentHold (tenant: string) {
    const [hold, lift] = await Promise.all([fastify.tenantPolicies.legalHold(tenant), fastify.tenantPolicies.pendingLift(tenant)])
    return {
      active: hold.active,
      reason: hold.reason,
      updated_at: hold.updated_at?.toISOString(),
      updated_by: hold.updated_by,
      pending_lift: lift === null
        ? null
        : {
            requested_by: lift.requested_by,
            requested_at: lift.requested_at.toISOString(),
            reason: lift.reason,
            mode: lift.not_before === undefined ? 'two-admins' as const : 'delay' as const,
            approvable_after: lift.not_before?.toISOString() ?? null
          }
    }
  }

  async function currentRetention (tenant: string) {
    const [policy, horizon] = await Promise.all([fastify.tenantPolicies.retention(tenant), fastify.tenantPolicies.retentionHorizon(tenant)])
    return {
      days: policy.days,
      default: policy.default,
      locked: policy.locked,
      policy_seq: policy.seq ?? null,
      updated_at: policy.updated_at?.toISOString(),
      updated_by: policy.updated_by,
      horizon: horizon === undefined ? null : { seq: horizon.horizon, expired_at: horizon.expired_at.toISOString(), days: horizon.days }
    }
  }

  fastify.get('/tenant/retention', {
    config: { auth: admin, audit: auditPolicyRead },
    schema: {
      operationId: 'getRetention',
      tags: ['tenant'],
      summary: 'Your tenant\'s retention policy and horizon',
      description: 'How long events are kept, and the retention horizon: every event with a lower seq was deleted by policy.',
      response: { 200: Type.Ref(RetentionPolicySchema, { description: 'The policy' }) }
    }
  }, async function getRetention (request) {
    return await currentRetention(request.principal.tenant)
  })

  fastify.put(
    '/tenant/retention',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: { auth: admin },
      schema: {
        operationId: 'setRetention',
        tags: ['tenant'],
        summary: "Set how long your tenant's events are kept",
        description:
          'Events older than `days` (by receipt time) are deleted by the background sweeper, oldest seq first, unless a legal hold ' +
          'is active. 0 keeps them forever. The change is an entry of your log (`audit.admin.retention_changed`, with the days ' +
          'and the lock), written first: the sweeper applies only what that entry says. `locked: true` locks it (compliance ' +
          'mode): from then on the days can only grow, and nothing unlocks it (409 `RETENTION_LOCKED`).',
        body: Type.Ref(RetentionInputSchema),
        response: {
          200: Type.Ref(RetentionPolicySchema, { description: 'The policy as set' }),
          ...errorResponses({
            400: 'Invalid body, or days outside RETENTION_MIN_DAYS..RETENTION_MAX_DAYS',
            409: 'The retention is locked: shorter days, or an unlock, refused (RETENTION_LOCKED)',
            413: 'Body over 8 KiB'
          })
        }
      }
    },
    async function setRetention (request) {
      const { days, locked } = request.body
      const tenant = request.principal.tenant
      if (days !== 0 && (days < options.minDays || days > options.maxDays)) {
        throw new ValidationFailedError(`body/days must be 0 (keep forever) or within ${options.minDays}..${options.maxDays}`)
      }
      const current = await fastify.tenantPolicies.retention(tenant)
      if (current.locked && locked === false) throw new RetentionLockedError('the retention is locked: nothing unlocks it')
      if (current.locked && keptDays(days) < keptDays(current.days)) {
        throw new RetentionLockedError(
          `the retention is locked at ${current.days === 0 ? 'forever' : `${current.days} days`}: it can only grow`
        )
      }
      const lock = current.locked || locked === true
      const seq = await record(request, retentionChanged(request.principal.username, days, current.days, lock, lock && !current.locked))
      await fastify.tenantPolicies.setRetention(tenant, days, request.principal.username, { seq, locked: lock })
      return await currentRetention(tenant)
    }
  )

  fastify.get('/tenant/legal-hold', {
    config: { auth: admin, audit: auditPolicyRead },
    schema: {
      operationId: 'getLegalHold',
      tags: ['tenant'],
      summary: 'Whether your tenant is under legal hold',
      response: { 200: Type.Ref(LegalHoldSchema, { description: 'The legal hold' }) }
    }
  }, async function getLegalHold (request) {
    return await currentHold(request.principal.tenant)
  })

  fastify.put(
    '/tenant/legal-hold',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: { auth: admin },
      schema: {
        operationId: 'setLegalHold',
        tags: ['tenant'],
        summary: 'Set the legal hold on your tenant, or ask to lift it',
        description:
          'While the hold is active, retention and erasure delete nothing of your tenant; a sweep already running stops before its ' +
          'next batch. `active: true` sets it at once (and cancels a pending lift). `active: false` only asks for a lift (202): ' +
          'another admin approves it (POST /tenant/legal-hold/lift/approve), or, where the operator chose LEGAL_HOLD_LIFT_MODE=delay, ' +
          'any admin once LEGAL_HOLD_LIFT_DELAY_MS passed; until then any admin can cancel it. Every step is an entry of your log ' +
          '(`audit.admin.legal_hold_set`, `.legal_hold_lift_requested`, `.legal_hold_lifted`, `.legal_hold_lift_cancelled`).',
        body: Type.Ref(LegalHoldInputSchema),
        response: {
          200: Type.Ref(LegalHoldSchema, { description: 'The legal hold as set (or no hold to lift)' }),
          202: Type.Ref(LegalHoldSchema, { description: 'A lift is pending: the hold stays until it is approved' }),
          ...errorResponses({ 400: 'Invalid body', 413: 'Body over 8 KiB' })
        }
      }
    },
    async function setLegalHold (request, reply) {
      const { tenant, username } = request.principal
      const { active, reason } = request.body
      if (active) {
        const pending = await fastify.tenantPolicies.pendingLift(tenant)
        const seq = await record(request, legalHoldSet(username, reason, pending?.seq))
        await fastify.tenantPolicies.setLegalHold(tenant, true, reason, username, seq)
        if (pending !== null) await fastify.tenantPolicies.takeLift(tenant, pending.seq)
        return await currentHold(tenant)
      }
      const hold = await fastify.tenantPolicies.legalHold(tenant)
      if (!hold.active) return await currentHold(tenant)
      // one admin alone lifts nothing: the lift waits for a second admin, or for the operator's delay
      if (await fastify.tenantPolicies.pendingLift(tenant) === null) {
        const requestedAt = new Date()
        const notBefore = options.liftMode === 'delay' ? new Date(requestedAt.getTime() + options.liftDelayMs) : undefined
        const seq = await record(request, legalHoldLiftRequested(username, reason, options.liftMode, notBefore))
        await fastify.tenantPolicies.requestLift(tenant, {
          requested_by: username,
          requested_at: requestedAt,
          reason,
          seq,
          ...(notBefore === undefined ? {} : { not_before: notBefore })
        })
      }
      return await reply.code(202).send(await currentHold(tenant))
    }
  )

  fastify.post('/tenant/legal-hold/lift/approve', {
    config: { auth: admin },
    schema: {
      operationId: 'approveLegalHoldLift',
      tags: ['tenant'],
      summary: 'Approve the pending lift of the legal hold',
      description:
        'Lifts the hold another admin asked to lift (LEGAL_HOLD_LIFT_MODE=two-admins, the default: the admin who asked cannot ' +
        'approve), or, in delay mode, any admin once the delay passed. Recorded as `audit.admin.legal_hold_lifted`, naming both.',
      response: {
        200: Type.Ref(LegalHoldSchema, { description: 'The hold, lifted' }),
        ...errorResponses({ 409: 'No lift pending, the same admin, or the delay not passed (LEGAL_HOLD_APPROVAL)' })
      }
    }
  }, async function approveLift (request) {
    const { tenant, username } = request.principal
    const pending = await fastify.tenantPolicies.pendingLift(tenant)
    if (pending === null) throw new LegalHoldApprovalError('no lift of the legal hold is pending')
    if (pending.not_before === undefined && pending.requested_by === username) {
      throw new LegalHoldApprovalError(`${username} asked for this lift: another admin must approve it`)
    }
    if (pending.not_before !== undefined && Date.now() < pending.not_before.getTime()) {
      throw new LegalHoldApprovalError(`the lift can be approved from ${pending.not_before.toISOString()}`)
    }
    // taken once: of two approvals (or an approval and a cancel) only one goes on
    if (!(await fastify.tenantPolicies.takeLift(tenant, pending.seq))) throw new LegalHoldApprovalError('no lift of the legal hold is pending')
    const seq = await record(request, legalHoldLifted(username, pending))
    await fastify.tenantPolicies.setLegalHold(tenant, false, pending.reason, username, seq)
    return await currentHold(tenant)
  })

  fastify.delete('/tenant/legal-hold/lift', {
    config: { auth: admin },
    schema: {
      operationId: 'cancelLegalHoldLift',
      tags: ['tenant'],
      summary: 'Cancel the pending lift of the legal hold',
      description: 'Any admin may cancel it, the one who asked included. Recorded as `audit.admin.legal_hold_lift_cancelled`.',
      response: {
        200: Type.Ref(LegalHoldSchema, { description: 'The hold, still active, with no lift pending' }),
        ...errorResponses({ 404: 'No lift pending' })
      }
    }
  }, async function cancelLift (request) {
    const { tenant, username } = request.principal
    const pending = await fastify.tenantPolicies.pendingLift(tenant)
    if (pending === null) throw new NotFoundError('Pending lift of the legal hold')
    await record(request, legalHoldLiftCancelled(username, pending))
    await fastify.tenantPolicies.takeLift(tenant, pending.seq)
    return await currentHold(tenant)
  })
}

export default tenantRoutes
