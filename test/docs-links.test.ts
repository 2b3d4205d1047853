import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The documentation holds together: every relative link of every Markdown file in the repository leads
 * somewhere (a file, a folder, or a heading of a Markdown file), the README stays short, and every guide
 * under docs/ can be reached from it by following links.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const README_MAX_LINES = 200

/** Tracked Markdown files, and new ones not yet committed (not ignored), that exist in the working tree. */
function markdownFiles (): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'], {
    cwd: root,
    encoding: 'utf8'
  })
  const files = [...new Set(listed.split('\0').filter((file) => file !== ''))]
  return files.filter((file) => !file.split('/').includes('node_modules') && existsSync(join(root, file))).sort()
}

/** The text with fenced code blocks and inline code spans blanked out, so that code is never read as a link. */
export function withoutCode (markdown: string): string {
  const lines = markdown.split('\n')
  let fence: string | undefined
  const kept = lines.map((line) => {
    const opener = /^ {0,3}(`{3,}|~{3,})/.exec(line)
    if (fence === undefined && opener !== null) { fence = (opener[1] as string)[0]; return '' }
    if (fence !== undefined) {
      if (new RegExp(`^ {0,3}\\${fence}{3,}\\s*$`).test(line)) fence = undefined
      return ''
    }
    return line
  })
  return kept.join('\n').replace(/(`+)[^`]*?\1/g, '')
}

export interface Link { target: string, line: number }

/** Inline links and images `[text](target "title")`, and reference definitions `[ref]: target`. */
export function linksIn (markdown: string): Link[] {
  const links: Link[] = []
  withoutCode(markdown).split('\n').forEach((text, index) => {
    for (const match of text.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: (match[1] as string).replace(/^<|>$/g, ''), line: index + 1 })
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*(\S+)/.exec(text)
    if (definition !== null) links.push({ target: (definition[1] as string).replace(/^<|>$/g, ''), line: index + 1 })
  })
  return links
}

/** GitHub's anchor for a heading: lowercase, punctuation other than hyphens and underscores dropped, spaces to hyphens. */
export function slug (heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading keeps its text
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor a Markdown file offers: its headings' slugs (a repeated one gets -1, -2…), and explicit ids. */
export function anchorsOf (markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  const lines = markdown.split('\n')
  let fence: string | undefined
  for (const line of lines) {
    const opener = /^ {0,3}(`{3,}|~{3,})/.exec(line)
    if (fence === undefined && opener !== null) { fence = (opener[1] as string)[0]; continue }
    if (fence !== undefined) {
      if (new RegExp(`^ {0,3}\\${fence}{3,}\\s*$`).test(line)) fence = undefined
      continue
    }
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading !== null) {
      const base = slug(heading[1] as string)
      const count = seen.get(base) ?? 0
      seen.set(base, count + 1)
      anchors.add(count === 0 ? base : `${base}-${count}`)
    }
    for (const id of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(id[1] as string)
  }
  return anchors
}

function isExternal (target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')
}

interface Resolved { path: string, anchor: string | undefined }

/** A relative link's file (absolute) and anchor; a bare `#anchor` is in the file itself. */
function resolveLink (from: string, target: string): Resolved {
  const hash = target.indexOf('#')
  const pathPart = hash === -1 ? target : target.slice(0, hash)
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
  const path = pathPart === '' ? from : resolve(dirname(from), decodeURIComponent(pathPart.replace(/\?.*$/, '')))
  return { path, anchor }
}

/** The Markdown a link leads to: the file itself, or a folder's README.md (which GitHub shows for it). */
function markdownBehind (path: string): string | undefined {
  if (!existsSync(path)) return undefined
  if (statSync(path).isDirectory()) {
    const readme = join(path, 'README.md')
    return existsSync(readme) ? readme : undefined
  }
  return path.endsWith('.md') ? path : undefined
}

const files = markdownFiles()
const anchorCache = new Map<string, Set<string>>()
function anchorsAt (path: string): Set<string> {
  let anchors = anchorCache.get(path)
  if (anchors === undefined) {
    anchors = anchorsOf(readFileSync(path, 'utf8'))
    anchorCache.set(path, anchors)
  }
  return anchors
}

t.test('the link reader', async (t) => {
  t.same(linksIn('see [a](b.md) and ![img](docs/x.png "title"), not `[c](d)`\n```\n[e](f)\n```\n[ref]: g/h.md'),
    [{ target: 'b.md', line: 1 }, { target: 'docs/x.png', line: 1 }, { target: 'g/h.md', line: 5 }])
  t.equal(slug('Erasure: a data subject\'s data goes, the proofs stay'), 'erasure-a-data-subjects-data-goes-the-proofs-stay')
  t.equal(slug('`npm run verify`'), 'npm-run-verify')
  t.equal(slug('`GET /events/stream` (Server-Sent Events)'), 'get-eventsstream-server-sent-events')
  t.equal(slug('Running with MongoDB (Docker)'), 'running-with-mongodb-docker')
  t.equal(slug('snake_case and [a link](x.md)'), 'snake_case-and-a-link')
  t.same([...anchorsOf('# A\n## A\n```\n# not a heading\n```\n<a name="here"></a>\n')], ['a', 'a-1', 'here'])
})

t.test('every relative link in the Markdown resolves', async (t) => {
  t.ok(files.includes('README.md'), 'the Markdown files are found')
  for (const file of files) {
    const absolute = join(root, file)
    for (const { target, line } of linksIn(readFileSync(absolute, 'utf8'))) {
      if (isExternal(target)) continue
      const { path, anchor } = resolveLink(absolute, target)
      const where = `${file}:${line}: ${target}`
      if (!existsSync(path)) {
        t.fail(`${where} leads to ${relative(root, path)}, which does not exist`)
        continue
      }
      if (anchor === undefined || anchor === '') continue
      const markdown = markdownBehind(path)
      if (markdown === undefined) continue // an anchor into a source file (a line number) is not checked
      t.ok(anchorsAt(markdown).has(anchor), `${where}: ${relative(root, markdown)} has a heading #${anchor}`)
    }
  }
})

t.test(`the README has at most ${README_MAX_LINES} lines`, async (t) => {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length
  t.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines; move detail into docs/`)
})

t.test('every guide under docs/ is reachable from the README by following links', async (t) => {
  const reached = new Set<string>()
  const queue = [join(root, 'README.md')]
  while (queue.length > 0) {
    const current = queue.shift() as string
    if (reached.has(current)) continue
    reached.add(current)
    for (const { target } of linksIn(readFileSync(current, 'utf8'))) {
      if (isExternal(target)) continue
      const next = markdownBehind(resolveLink(current, target).path)
      if (next !== undefined && !reached.has(next)) queue.push(next)
    }
  }
  const guides = files.filter((file) => file.startsWith('docs/') && file.endsWith('.md'))
  t.ok(guides.length > 0, 'docs/ has guides')
  for (const guide of guides) t.ok(reached.has(join(root, guide)), `${guide} is reachable from README.md`)
})
