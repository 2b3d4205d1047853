import t from 'tap'
import { build } from '../helper.js'
import { VIEWER_CSP } from '../../src/routes/viewer.js'

/** /ui: the viewer's files, public, under a CSP with no inline script or style and no eval. */
t.test('the viewer at /ui', async (t) => {
  const app = await build(t)

  t.notMatch(VIEWER_CSP, /unsafe-inline|unsafe-eval/, 'the CSP allows neither inline code nor eval')
  t.match(VIEWER_CSP, /script-src 'self'/, 'scripts only from the service')
  t.match(VIEWER_CSP, /style-src 'self'/, 'styles only from the service')
  t.match(VIEWER_CSP, /frame-ancestors 'none'/, 'never framed')

  for (const url of ['/ui', '/ui/']) {
    const page = await app.inject({ method: 'GET', url })
    t.equal(page.statusCode, 200, `${url} answers without a token`)
    t.match(page.headers['content-type'], /^text\/html/, `${url} is the page`)
    t.equal(page.headers['content-security-policy'], VIEWER_CSP, `${url} has the viewer's CSP, not Swagger UI's`)
    t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, `${url} has no inline script`)
    t.notMatch(page.body, /\sstyle=|<style/, `${url} has no inline style`)
  }

  for (const [file, type] of [
    ['main.js', /^text\/javascript/],
    ['viewer.css', /^text\/css/],
    ['uPlot.iife.min.js', /^text\/javascript/],
    ['uPlot.min.css', /^text\/css/]
  ] as const) {
    const res = await app.inject({ method: 'GET', url: `/ui/${file}` })
    t.equal(res.statusCode, 200, `${file} is served (from the build, or node_modules for uPlot)`)
    t.match(res.headers['content-type'], type, `${file} has its type`)
  }

  for (const url of ['/ui/nothing.js', '/ui/..%2Fpackage.json', '/ui/%2e%2e%2fsrc%2fconfig.ts']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, `${url}: 404, nothing is read by a client-given path`)
    t.equal(res.json().code, 'NOT_FOUND', `${url}: the Error body`)
  }
})
