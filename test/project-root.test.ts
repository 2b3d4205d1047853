import t from 'tap'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../src/project-root.js'

t.test('the project root passes over the compiled build\'s own package.json', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'root-'))
  writeFileSync(join(root, 'package.json'), '{}')
  mkdirSync(join(root, 'dist', 'src', 'embedded'), { recursive: true })
  writeFileSync(join(root, 'dist', 'package.json'), '{}')
  mkdirSync(join(root, 'src', 'embedded'), { recursive: true })
  t.equal(projectRoot(join(root, 'dist', 'src', 'embedded')), root, 'from dist/src/: the repository, not dist/ (npm start)')
  t.equal(projectRoot(join(root, 'src', 'embedded')), root, 'from src/ (tsx)')
})
