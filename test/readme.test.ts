import { AUDIT_EVENT_TYPES } from '../src/plugins/app/audit/namespace.js'
import t from 'tap'
import { readFileSync } from 'node:fs'
import { ConfigSchema } from '../src/config.js'
import { ERROR_CODES } from '../src/errors.js'
import { configTable, defaultCell, tableIn, withTable, TABLE_END, TABLE_START } from '../scripts/config-table.js'

const operations = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8')
const api = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8')

t.test('the configuration table of docs/operations.md is the one generated from the config schema', async (t) => {
  const committed = tableIn(operations)
  t.ok(committed !== undefined, `docs/operations.md has the markers ${TABLE_START} and ${TABLE_END}`)
  t.equal(committed, configTable(), 'the table is up to date: run `npm run docs:config` after changing ConfigSchema (src/config.ts)')
})

t.test('the generated table has a row for every configuration variable, with its default and description', async (t) => {
  const rows = configTable().split('\n')
  for (const [name, schema] of Object.entries<{ default?: unknown, description?: string }>(ConfigSchema.properties)) {
    const row = rows.find((line) => line.startsWith(`| \`${name}\` |`))
    t.ok(row, `${name} has a row`)
    t.equal(row?.split(' | ')[1], defaultCell(schema.default), `${name}'s default is stated`)
    t.ok(schema.description !== undefined && schema.description.length > 0, `${name} has a description in the schema`)
  }
  t.equal(defaultCell(undefined), 'unset')
  t.equal(defaultCell(''), '`""`')
  t.equal(defaultCell(3000), '`3000`')
})

t.test('the generator replaces only what is between the markers, and refuses a document without them', async (t) => {
  const document = `# Title\n\nbefore\n\n${TABLE_START}\n| old |\n${TABLE_END}\n\nafter\n`
  const table = '| variable | default | meaning |\n|---|---|---|\n| `X` | unset | x. |'
  const rewritten = withTable(document, table)
  t.equal(rewritten, `# Title\n\nbefore\n\n${TABLE_START}\n${table}\n${TABLE_END}\n\nafter\n`)
  t.equal(tableIn(rewritten), table, 'what is written is what is read back')
  t.equal(withTable(rewritten, table), rewritten, 'rewriting an up-to-date document changes nothing')
  t.throws(() => withTable('# no markers\n', table), /markers/)
  t.equal(tableIn('# no markers\n'), undefined)
})

t.test('docs/api.md documents every error code', async (t) => {
  const lines = api.split('\n')
  for (const code of ERROR_CODES) {
    t.ok(lines.some((line) => line.startsWith(`| \`${code}\` |`)), `${code} has a row in the error code table`)
  }
})

t.test('docs/audit-trail.md names every audit event type the service records', async (t) => {
  const guide = readFileSync(new URL('../docs/audit-trail.md', import.meta.url), 'utf8')
  // a row's first cell names types in full or, after the first, by their last part: `audit.read.a`, `.b`
  const named = new Set<string>()
  for (const row of guide.split('\n').filter((line) => line.startsWith('| `audit.'))) {
    let prefix = ''
    for (const [, name] of (row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)) {
      const full = name!.startsWith('.') ? prefix + name!.slice(1) : name!
      prefix = full.slice(0, full.lastIndexOf('.') + 1)
      named.add(full)
    }
  }
  for (const type of Object.keys(AUDIT_EVENT_TYPES)) t.ok(named.has(type), `${type} has a row`)
})
