import t from 'tap'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { launchChromium, NO_CHROMIUM } from '../fixtures/chromium.js'
import { bearer, build, TEST_PASSWORD, userWithToken } from '../helper.js'

/**
 * The viewer's session (#30): the login page says where the embedded default's admin password is; a session
 * warns before it ends and is renewed in place, with the search, its rows and its URL untouched; the date-time
 * pickers read and write the person's own zone. Tokens live
 * 100 s here, inside the two minutes in which the page warns, so the warning shows from the start.
 */
const TENANT = 'session-tenant'

if (NO_CHROMIUM !== undefined) {
  t.test('the viewer session in headless Chromium', { skip: NO_CHROMIUM }, () => {})
} else {
  t.test('the viewer session: where the password is, a warning before the end, renewal without losing the search', async (t) => {
    const app = await build(t, { config: { JWT_TTL: 100 } })
    const token = await userWithToken(app, { username: 'auditor', roles: ['reader', 'writer'], tenant: TENANT })
    const events = ['Rare', 'Common', 'Rare'].map((eventType, i) => ({
      event_type: eventType, username: `u${i}`, entitytype: 'x', ip: '10.0.0.1', location: 'Oslo', description: `event ${i}`
    }))
    t.equal((await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(token), payload: { events } })).statusCode, 200)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const browser = await launchChromium(t)
    const page = await browser.newPage()
    page.setDefaultTimeout(30000)
    const problems: string[] = []
    page.on('console', (message) => { if (message.type() === 'error') problems.push(`console error: ${message.text()}`) })
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`))
    page.on('response', (response) => { if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`) })

    await page.goto(`${base}/ui?event_type=Rare`, { waitUntil: 'networkidle0' })
    await page.waitForSelector('#login-view:not([hidden])')
    t.match(await page.$eval('#login-help', (element) => element.textContent), /admin-password\.txt/, 'the login page says where the password is')
    await page.type('#login-username', 'auditor')
    await page.type('#login-password', TEST_PASSWORD)
    await page.type('#login-tenant', TENANT)
    await page.keyboard.press('Enter')
    await page.waitForFunction("document.querySelectorAll('#results-body tr[data-id]').length === 2")
    const rows = await page.$$eval('#results-body tr[data-id]', (found) => found.map((row) => row.getAttribute('data-id')))

    await page.waitForSelector('#session-warning:not([hidden])')
    t.match(await page.$eval('#session-warning', (element) => element.textContent), /Your session ends in \d+ (s|min)\./, 'it warns, saying how long is left')
    const stored = async () => await page.evaluate('JSON.parse(Object.values(sessionStorage)[0])') as { token: string, expiresAt: number }
    const before = await stored()
    // tokens expire on whole seconds: the renewed one is issued in a later second than the first
    await sleep(1100)
    await page.click('#session-renew')
    await page.waitForSelector('#renew-dialog[open]')
    await page.type('#renew-password', TEST_PASSWORD)
    await page.click('#renew-submit')
    await page.waitForSelector('#renew-dialog:not([open])')
    const after = await stored()
    t.not(after.token, before.token, 'a new token')
    t.ok(after.expiresAt > before.expiresAt, 'that ends later')
    t.equal(new URL(page.url()).search, '?event_type=Rare', 'the search stays in the URL')
    t.same(await page.$$eval('#results-body tr[data-id]', (found) => found.map((row) => row.getAttribute('data-id'))), rows, 'and its rows on the page')
    t.ok(await page.$eval('#login-view', (element) => element.hidden), 'no login page on the way')
    const answer = await page.evaluate(`fetch('/events?limit=1', { headers: { authorization: 'Bearer ' + ${JSON.stringify(after.token)} } }).then((r) => r.status)`)
    t.equal(answer, 200, 'the new token reads')

    // the date-time pickers are in the person's zone; the box, the URL and the API get the instant in UTC
    await page.emulateTimezone('Asia/Kolkata')
    await page.reload({ waitUntil: 'networkidle0' })
    await page.waitForFunction("document.querySelectorAll('#results-body tr[data-id]').length === 2")
    t.match(await page.$eval('#time-zone', (element) => element.textContent), /Asia\/(Kolkata|Calcutta)/, 'the page says which zone the pickers use (ICU may name it Calcutta)')
    await page.$eval('#timeStart-picker', (input) => {
      const picker = input as unknown as { value: string, dispatchEvent: (event: unknown) => boolean }
      picker.value = '2026-12-01T10:00:00'
      // a string: the page's Event constructor is not in the test's TypeScript lib
      picker.dispatchEvent(new (globalThis as unknown as { Event: new (type: string) => unknown }).Event('change'))
    })
    t.equal(await page.$eval('#timeStart', (input) => (input as unknown as { value: string }).value), '2026-12-01T04:30:00.000Z',
      '10:00 in Kolkata is 04:30 UTC in the box')
    await page.click('.quick button[data-range="3600000"]')
    await page.waitForFunction("new URL(location.href).searchParams.has('timeStart')")
    const start = new URL(page.url()).searchParams.get('timeStart') ?? ''
    const picked = await page.$eval('#timeStart-picker', (input) => (input as unknown as { value: string }).value)
    t.equal(new Date(Date.parse(start)).toLocaleString('sv-SE', { timeZone: 'Asia/Kolkata' }).replace(' ', 'T'), picked,
      'a quick range moves the picker to its start, in the zone')
    t.same(problems, [], 'no console error, page error or failed response')
  })
}
