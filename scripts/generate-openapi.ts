import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildOpenApiDocument } from './openapi-document.js'

/**
 * `npm run openapi`: writes the OpenAPI document the code generates to openapi/openapi.json (the file
 * client teams generate SDKs from). test/app/openapi.test.ts fails when the committed file is stale.
 */
const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi', 'openapi.json')
mkdirSync(dirname(target), { recursive: true })
writeFileSync(target, await buildOpenApiDocument())
process.stdout.write(`wrote ${target}\n`)
