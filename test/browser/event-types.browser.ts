import t from 'tap'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Page } from 'puppeteer-core'
import { launchChromium, NO_CHROMIUM } from '../fixtures/chromium.js'
import { bearer, build, TEST_PASSWORD, userWithToken } from '../helper.js'

/**
 * The viewer's type picker (issue #31) in headless Chromium: the event_type filter offers the tenant's registered
 * types (GET /tenant/event-types) with their descriptions; picking one searches by it; the detail of an event says
 * what its type records and which schema version it passed; and Verify recomputes its leaf with schema_version in
 * it. Any console error, page error, failed request or 4xx/5xx fails the test. Skipped without /usr/bin/chromium.
 */
const HOSTNAME = 'audit.internal'
const TENANT = 'types-viewer'

if (NO_CHROMIUM !== undefined) {
  t.test('the type picker in headless Chromium', { skip: NO_CHROMIUM }, () => {})
} else {
  t.test('the viewer offers registered types, describes them in the detail, and verifies a validated event', async (t) => {
    const app = await build(t, { config: { CHECKPOINT_INTERVAL_MS: 200 } })
    const token = await userWithToken(app, { username: 'typist', roles: ['admin', 'writer', 'reader'], tenant: TENANT })
    const billing = { type: 'object', properties: { amount: { type: 'number', minimum: 0, maximum: 1e9 } }, required: ['amount'] }
    for (const [type, body] of [
      ['BillingCharged', { schema: billing, description: 'A customer was billed', example: { amount: 1 } }],
      ['AccountClosed', { schema: { type: 'object' }, description: 'An account was closed', deprecated: true }]
    ] as const) {
      const put = await app.inject({ method: 'PUT', url: `/tenant/event-types/${type}`, headers: bearer(token), payload: body })
      t.equal(put.statusCode, 201, put.body)
    }
    const event = (type: string, details: Record<string, unknown>) => ({
      event_type: type,
      username: 'jane',
      entitytype: 'customer_account',
      ip: '192.168.0.1',
      location: 'Paris',
      description: `A ${type} event`,
      event_specificdetails: details
    })
    const events = [event('BillingCharged', { amount: 12.5 }), event('AccountCreated', { n: 1 }), event('BillingCharged', { amount: 3 })]
    const posted = await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(token), payload: { events } })
    t.same(posted.json().items.map((item: { status: string }) => item.status), ['created', 'created', 'created'])
    const newestBilling = posted.json().items[2] as { id: string }

    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const base = `http://${HOSTNAME}:${port}`
    const browser = await launchChromium(t, { hostname: HOSTNAME, secureOrigin: base })
    const page: Page = await browser.newPage()
    page.setDefaultTimeout(20000)
    const problems: string[] = []
    page.on('console', (message) => { if (message.type() === 'error') problems.push(`console error: ${message.text()}`) })
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`))
    page.on('response', (response) => { if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`) })

    await page.goto(`${base}/ui`, { waitUntil: 'networkidle0' })
    await page.waitForSelector('#login-view:not([hidden])')
    await page.type('#login-username', 'typist')
    await page.type('#login-password', TEST_PASSWORD)
    await page.type('#login-tenant', TENANT)
    await page.keyboard.press('Enter')

    // the picker: the event_type box lists the registered types, by name, each labelled with its description
    await page.waitForFunction("document.querySelectorAll('#event-type-options option').length === 2")
    t.equal(await page.$eval('#filter-event_type', (input) => input.getAttribute('list')), 'event-type-options', 'the type box uses the picker')
    const options = await page.$$eval('#event-type-options option', (list) => list.map((option) => [option.getAttribute('value'), option.getAttribute('label')]))
    t.same(options, [['AccountClosed', 'An account was closed (deprecated)'], ['BillingCharged', 'A customer was billed']])

    // picking a type searches by it
    await page.type('#filter-event_type', 'BillingCharged')
    await page.click('#search-submit')
    await page.waitForFunction(
      "new URL(location.href).searchParams.get('event_type') === 'BillingCharged' && document.querySelectorAll('#results-body tr:not(.placeholder)').length === 2"
    )

    // the detail says what the type records and which version its details passed
    await page.focus('#results-body tr')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#detail[open] dd[data-field="schema_version"]')
    t.equal(await page.$eval('#detail dd[data-field="id"]', (element) => element.textContent), newestBilling.id)
    t.equal(
      await page.$eval('#detail-type-description', (element) => element.textContent),
      'A customer was billed. Validated against version 1 of its schema.'
    )

    // Verify recomputes the leaf from the fields, schema_version included
    while ((await app.inject({ method: 'GET', url: `/events/${newestBilling.id}/proof`, headers: bearer(token) })).statusCode !== 200) await sleep(200)
    await page.click('#verify')
    await page.waitForSelector('#verify-result.verified, #verify-result.failed')
    t.equal(
      await page.$eval('#verify-result', (element) => element.className),
      'verified',
      `verified (${await page.$eval('#verify-steps', (element) => element.textContent ?? '')})`
    )
    t.same(problems, [], 'no console errors, page errors or failed requests')
  })
}
