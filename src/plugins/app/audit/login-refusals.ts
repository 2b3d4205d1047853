import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

interface LoginBody { username?: unknown, tenant?: unknown }

/**
 * A route onError hook for POST /login: a refused login (wrong password, unknown or disabled user, or a
 * login limit) is recorded in the tenant it named, as `audit.auth.login_failed` or `.login_limited`.
 * Only when that tenant exists, so that anonymous callers cannot write into the log of any name they
 * choose; and after the answer (not awaited), so that neither its timing nor a database fault changes what
 * the caller learns. A login refused by the per-address limit before its body was read names no tenant,
 * and is in the service log only.
 */
export function recordRefusedLogin (fastify: FastifyInstance, defaultTenant: string) {
  return async function recordRefusedLoginHook (request: FastifyRequest, _reply: FastifyReply, error: FastifyError): Promise<void> {
    const limited = error.code === 'AUTH_TOO_MANY_ATTEMPTS'
    if (error.code !== 'AUTH_LOGIN_FAILED' && !limited) return
    const body = request.body as LoginBody | undefined
    if (typeof body?.username !== 'string') return
    const username = body.username
    const tenant = typeof body.tenant === 'string' ? body.tenant : defaultTenant
    const tenantExists = async () => await fastify.userStore.collection.findOne({ tenant }, { projection: { _id: 1 } }) !== null
    if (!fastify.auditTrail.enabled) return
    tenantExists().then((exists) => {
      if (!exists) return
      fastify.auditTrail.recordLater({ tenant, username }, request, [
        {
          event_type: limited ? 'audit.auth.login_limited' : 'audit.auth.login_failed',
          entitytype: 'session',
          description: limited
            ? `A login as ${username} was refused: too many attempts`
            : `A login as ${username} failed: unknown user, wrong password or disabled user`,
          details: { target_user: username }
        }
      ])
    }).catch((err: unknown) => request.log.error({ err }, 'a refused login could not be recorded'))
  }
}
