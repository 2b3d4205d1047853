import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../schemas/common.js'
import {
  LegalHoldInputSchema,
  LegalHoldSchema,
  RetentionInputSchema,
  RetentionPolicySchema,
  type LegalHoldInput,
  type RetentionInput
} from '../schemas/tenant.js'
import { auditPolicyRead } from '../plugins/app/audit/entries.js'
import type { AuditSpec } from '../plugins/app/audit/audit-trail.js'
import { ValidationFailedError } from '../errors.js'
import { USER_BODY_LIMIT } from '../http/body-limits.js'

export interface TenantRoutesOptions {
  /** RETENTION_MIN_DAYS, RETENTION_MAX_DAYS */
  minDays: number
  maxDays: number
}

const retentionChanged: AuditSpec = (request) => {
  const { days } = request.body as RetentionInput
  return {
    event_type: 'audit.admin.retention_changed',
    entitytype: 'tenant_policy',
    description: `${request.principal.username} set the retention to ${days === 0 ? 'forever' : `${days} days`}`,
    details: { days }
  }
}

const legalHoldChanged: AuditSpec = (request) => {
  const { active, reason } = request.body as LegalHoldInput
  return {
    event_type: active ? 'audit.admin.legal_hold_set' : 'audit.admin.legal_hold_lifted',
    entitytype: 'tenant_policy',
    description: `${request.principal.username} ${active ? 'set' : 'lifted'} the legal hold: ${reason}`,
    details: { active, reason }
  }
}

/** The tenant's compliance settings, for its admins: how long events are kept, and the legal hold that stops deletion. */
const tenantRoutes: FastifyPluginAsyncTypebox<TenantRoutesOptions> = async function tenantRoutes (fastify, options) {
  const admin = { roles: ['admin' as const] }

  async function currentRetention (tenant: string) {
    const [policy, horizon] = await Promise.all([fastify.tenantPolicies.retention(tenant), fastify.tenantPolicies.retentionHorizon(tenant)])
    return {
      ...policy,
      updated_at: policy.updated_at?.toISOString(),
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
      config: { auth: admin, audit: retentionChanged },
      schema: {
        operationId: 'setRetention',
        tags: ['tenant'],
        summary: "Set how long your tenant's events are kept",
        description:
          'Events older than `days` (by receipt time) are deleted by the background sweeper, oldest seq first, unless a legal hold ' +
          'is active. 0 keeps them forever. Audited as `audit.admin.retention_changed`.',
        body: Type.Ref(RetentionInputSchema),
        response: {
          200: Type.Ref(RetentionPolicySchema, { description: 'The policy as set' }),
          ...errorResponses({ 400: 'Invalid body, or days outside RETENTION_MIN_DAYS..RETENTION_MAX_DAYS', 413: 'Body over 8 KiB' })
        }
      }
    },
    async function setRetention (request) {
      const { days } = request.body
      if (days !== 0 && (days < options.minDays || days > options.maxDays)) {
        throw new ValidationFailedError(`body/days must be 0 (keep forever) or within ${options.minDays}..${options.maxDays}`)
      }
      await fastify.tenantPolicies.setRetention(request.principal.tenant, days, request.principal.username)
      return await currentRetention(request.principal.tenant)
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
    const hold = await fastify.tenantPolicies.legalHold(request.principal.tenant)
    return { ...hold, updated_at: hold.updated_at?.toISOString() }
  })

  fastify.put(
    '/tenant/legal-hold',
    {
      bodyLimit: USER_BODY_LIMIT,
      config: { auth: admin, audit: legalHoldChanged },
      schema: {
        operationId: 'setLegalHold',
        tags: ['tenant'],
        summary: 'Set or lift the legal hold on your tenant',
        description:
          'While the hold is active, retention deletes nothing of your tenant; a sweep already running stops before its next batch. ' +
          'Setting and lifting are audited (`audit.admin.legal_hold_set`, `audit.admin.legal_hold_lifted`) with the reason.',
        body: Type.Ref(LegalHoldInputSchema),
        response: {
          200: Type.Ref(LegalHoldSchema, { description: 'The legal hold as set' }),
          ...errorResponses({ 400: 'Invalid body', 413: 'Body over 8 KiB' })
        }
      }
    },
    async function setLegalHold (request) {
      const hold = await fastify.tenantPolicies.setLegalHold(
        request.principal.tenant,
        request.body.active,
        request.body.reason,
        request.principal.username
      )
      return { ...hold, updated_at: hold.updated_at?.toISOString() }
    }
  )
}

export default tenantRoutes
