import t from 'tap'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Page } from 'puppeteer-core'
import { launchChromium, NO_CHROMIUM } from '../fixtures/chromium.js'
import { bearer, build, TEST_PASSWORD, userWithToken } from '../helper.js'

/**
 * A scoped view link in the viewer (#30): an admin creates it on the users page; opened in another tab it shows
 * only its events (the API's answer to the key), with Verify; it stops working after its expiry and after its
 * revocation, and the page says so. The enforcement itself is the server's (test/routes/view-links.test.ts).
 */
const TENANT = 'link-tenant'
const AUTH_CACHE_MS = 200

if (NO_CHROMIUM !== undefined) {
  t.test('the viewer view link in headless Chromium', { skip: NO_CHROMIUM }, () => {})
} else {
  t.test('a view link: created by an admin, shows only its events with Verify, fails after expiry and revocation', async (t) => {
    const app = await build(t, { config: { AUTH_CACHE_MS } })
    const admin = await userWithToken(app, { username: 'link-admin', roles: ['admin', 'writer', 'reader'], tenant: TENANT })
    const events = ['alice', 'bob', 'alice', 'carol', 'bob'].map((username, i) => ({
      event_type: 'Viewed', username, entitytype: 'x', ip: '10.0.0.1', location: 'Oslo', description: `event ${i}`
    }))
    t.equal((await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(admin), payload: { events } })).statusCode, 200)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const browser = await launchChromium(t)
    const problems: string[] = []
    const watch = (page: Page, expected: RegExp) => {
      page.setDefaultTimeout(30000)
      page.on('console', (message) => { if (message.type() === 'error' && !expected.test(message.text())) problems.push(`console error: ${message.text()}`) })
      page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`))
      page.on('response', (response) => { if (response.status() >= 400 && !expected.test(String(response.status()))) problems.push(`${response.status()} for ${response.url()}`) })
    }

    // the admin creates the link on the users page
    const adminPage = await browser.newPage()
    watch(adminPage, /^$/)
    await adminPage.goto(`${base}/ui`, { waitUntil: 'networkidle0' })
    await adminPage.type('#login-username', 'link-admin')
    await adminPage.type('#login-password', TEST_PASSWORD)
    await adminPage.type('#login-tenant', TENANT)
    await adminPage.keyboard.press('Enter')
    await adminPage.waitForSelector('#results-body tr[data-id]')
    await adminPage.click('#nav-users')
    await adminPage.select('#link-field', 'username')
    await adminPage.type('#link-value', 'alice')
    await adminPage.click('#create-link')
    await adminPage.waitForFunction("document.getElementById('new-link-url').textContent.includes('#view=alk_')")
    const url = await adminPage.$eval('#new-link-url', (element) => element.textContent ?? '')
    const key = url.slice(url.indexOf('#view=') + '#view='.length)
    t.match(url, new RegExp(`^${base}/ui#view=alk_`), 'the page shows the link to hand over')

    // opened in another tab: only alice's events, the API's own answer to the key, and Verify
    const viewer = await browser.newPage()
    watch(viewer, /^$/)
    await viewer.goto(url, { waitUntil: 'networkidle0' })
    await viewer.waitForSelector('#results-body tr[data-id]')
    await viewer.waitForFunction("!document.getElementById('results-status').textContent.startsWith('Loading')")
    t.match(await viewer.$eval('#scope-banner', (element) => element.textContent), /only the events whose username is alice, read-only/, 'the page says what it shows')
    t.equal(new URL(viewer.url()).hash, '', 'the key leaves the address bar')
    const shown = await viewer.$$eval('#results-body tr[data-id]', (rows) => rows.map((row) => row.getAttribute('data-id')))
    const api = (await app.inject({ method: 'GET', url: '/events?limit=50&event_type_not_prefix=audit.', headers: bearer(key) })).json().items as
      Array<{ id: string, username: string }>
    t.same(shown, api.map((event) => event.id), "the API's answer to the key")
    t.same(api.map((event) => event.username), ['alice', 'alice'], "alice's events only")
    t.ok(await viewer.$eval('#nav-users', (element) => element.hidden), 'no users page')
    const id = shown[0] ?? ''
    while ((await app.inject({ method: 'GET', url: `/events/${id}/proof`, headers: bearer(key) })).statusCode !== 200) await sleep(200)
    await viewer.click('#results-body tr[data-id]')
    await viewer.waitForSelector('#detail[open]')
    await viewer.click('#verify')
    await viewer.waitForSelector('#verify-result.verified, #verify-result.failed')
    t.equal(await viewer.$eval('#verify-result', (element) => element.className), 'verified', 'Verify works through the link')
    await viewer.keyboard.press('Escape')

    // expired: the page that opens it is told so
    const keyId = key.split('_')[1] ?? ''
    await app.mongo.db?.collection('api_keys').updateOne({ _id: keyId } as never, { $set: { expires_at: new Date(Date.now() - 1000) } })
    await sleep(AUTH_CACHE_MS + 50)
    const late = await browser.newPage()
    watch(late, /401/)
    await late.goto(url, { waitUntil: 'networkidle0' })
    await late.waitForSelector('#login-view:not([hidden])')
    t.match(await late.$eval('#login-notice', (element) => element.textContent), /does not work/, 'after its expiry: refused, and said')
    await app.mongo.db?.collection('api_keys').updateOne({ _id: keyId } as never, { $set: { expires_at: new Date(Date.now() + 3_600_000) } })
    await sleep(AUTH_CACHE_MS + 50)

    // revoked: the open tab's next read ends its session; a new tab is refused
    t.equal((await app.inject({ method: 'DELETE', url: `/tenant/api-keys/${keyId}`, headers: bearer(admin) })).statusCode, 204)
    await sleep(AUTH_CACHE_MS + 50)
    viewer.removeAllListeners('response')
    viewer.removeAllListeners('console')
    watch(viewer, /401/)
    await viewer.bringToFront()
    await viewer.click('#search-submit')
    await viewer.waitForSelector('#login-view:not([hidden])')
    t.pass('after its revocation the open page asks for a login')
    await late.close()
    const revoked = await browser.newPage()
    watch(revoked, /401/)
    await revoked.goto(url, { waitUntil: 'networkidle0' })
    await revoked.waitForSelector('#login-view:not([hidden])')
    t.match(await revoked.$eval('#login-notice', (element) => element.textContent), /does not work/, 'and a new tab is refused')
    t.same(problems, [], 'no other console error, page error or failed response')
  })
}
