import type { RouteOptions } from 'fastify'

type OnRequest = NonNullable<RouteOptions['onRequest']>
type OnRequestHook = Extract<OnRequest, (...args: never[]) => unknown>
type HookName = 'onRequest' | 'preHandler' | 'preSerialization' | 'onSend' | 'onResponse'

/**
 * Adds a route-level hook after those the route already has. Plugins that add theirs from an onRoute hook
 * (rate limit, authorization, scan admission, body budget, the audit trail) therefore run in the order they
 * were registered in app.ts, which is the order their checks need.
 */
export function appendRouteHook (route: RouteOptions, name: HookName, hook: (...args: never[]) => unknown): void {
  const existing = route[name] === undefined ? [] : Array.isArray(route[name]) ? route[name] : [route[name]]
  route[name] = [...existing, hook] as never
}

/** The onRequest case, typed: the checks that run before a body is read. */
export function appendOnRequest (route: RouteOptions, hook: OnRequestHook): void {
  appendRouteHook(route, 'onRequest', hook)
}
