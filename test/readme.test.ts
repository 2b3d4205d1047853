import t from 'tap'
import { readFileSync } from 'node:fs'
import { ConfigSchema } from '../src/config.js'
import { ERROR_CODES } from '../src/errors.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('the README documents every configuration variable with its default', async (t) => {
  for (const [name, schema] of Object.entries<{ default?: unknown }>(ConfigSchema.properties)) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`))
    t.ok(row, `${name} has a row in the configuration table`)
    const expected = schema.default === undefined ? 'unset' : `\`${String(schema.default)}\``
    t.equal(row?.split('|')[2]?.trim(), expected, `${name}'s default is stated`)
  }
})

t.test('the README documents every error code', async (t) => {
  for (const code of ERROR_CODES) {
    t.ok(readme.split('\n').some((line) => line.startsWith(`| \`${code}\` |`)), `${code} has a row in the error code table`)
  }
})
