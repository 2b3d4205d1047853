/**
 * Swagger UI loads its document again once the user authorizes, and again once they log out, sending the credential
 * they authorized with, so the server can add what their tenant has (swagger.ts's `tailor`: the tenant's event types
 * as examples). The credential is read where Swagger UI keeps it with `persistAuthorization` (localStorage's
 * `authorized`), on every load of the document: a page reloaded while authorized gets the same document.
 *
 * Browser code as source text: @fastify/swagger-ui writes `uiConfig` into its page, a function by its source
 * (toString), and a function written here would carry what the TypeScript transform adds (tsx's `__name(...)`),
 * which the page does not define.
 */
export const SPEC_REQUEST_INTERCEPTOR = browserCode<(request: Record<string, unknown>) => Record<string, unknown>>(`function (request) {
  // the document only, and only from this service (the page's own origin): never a credential elsewhere
  if (!request.loadSpec || new URL(request.url, location.href).origin !== location.origin) return request
  try {
    var token = JSON.parse(localStorage.getItem('authorized') || '{}').bearerAuth.value
    if (typeof token === 'string' && token !== '') request.headers.Authorization = 'Bearer ' + token
  } catch (ignored) {}
  return request
}`)

/** The actions of the Authorize dialog, wrapped: after each, the document is loaded again (with the interceptor above). */
export const RELOAD_ON_AUTHORIZE_PLUGIN = browserCode<() => Record<string, unknown>>(`function () {
  function reloading (original, system) {
    return function () {
      var result = original.apply(null, arguments)
      system.specActions.download()
      return result
    }
  }
  return { statePlugins: { auth: { wrapActions: { authorizeWithPersistOption: reloading, logoutWithPersistOption: reloading } } } }
}`)

/** Swagger UI's own plugin that loads the document from its URL: naming `plugins` replaces @fastify/swagger-ui's list. */
export const DOWNLOAD_URL_PLUGIN = browserCode<() => Record<string, unknown>>('SwaggerUIBundle.plugins.DownloadUrl')

/** A function that @fastify/swagger-ui writes into the page as `source`; its type is what the page's code is. */
function browserCode<F extends (...args: never[]) => unknown> (source: string): F {
  const code = (): never => { throw new Error('browser code: runs in Swagger UI\'s page, not here') }
  code.toString = () => source
  return code as unknown as F
}
