import type { RouteOptions } from 'fastify'

type OnRequest = NonNullable<RouteOptions['onRequest']>
type OnRequestHook = Extract<OnRequest, (...args: never[]) => unknown>

/**
 * Adds a route-level onRequest hook after those the route already has. Plugins that add theirs from an
 * onRoute hook (rate limit, authorization, scan admission, body budget) therefore run in the order they
 * were registered in app.ts, which is the order their checks need.
 */
export function appendOnRequest (route: RouteOptions, hook: OnRequestHook): void {
  const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
  route.onRequest = [...existing, hook]
}
