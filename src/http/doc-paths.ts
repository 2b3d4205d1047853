/**
 * Where Swagger UI and the OpenAPI document are served. Below both the swagger wrapper that serves them and
 * the authorization plugin, whose deny-by-default lets only these routes go without `config.auth`.
 */
export const DOCS_PREFIX = '/docs'
export const OPENAPI_PATH = '/openapi.json'
