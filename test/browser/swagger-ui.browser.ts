import t from 'tap'
import type { AddressInfo } from 'node:net'
import type { Page } from 'puppeteer-core'
import { launchChromium, NO_CHROMIUM } from '../fixtures/chromium.js'
import { bearer, build, createUser, TEST_PASSWORD, userWithToken } from '../helper.js'

/**
 * Swagger UI in a real browser (Debian's chromium, driven by puppeteer-core; no browser is downloaded),
 * opened by a hostname that is not loopback over plain HTTP, as from another machine: the case that was a
 * blank page while helmet sent `upgrade-insecure-requests` and HSTS. A user logs in with "Try it out",
 * authorizes with the token, posts the prefilled example event and lists with order=asc picked in the
 * dropdown. Once authorized, Swagger UI loads the document again with the token, and POST /events offers the
 * tenant's event types as examples (#31): the test picks one and posts it. Any console error, page error,
 * failed request or 4xx/5xx asset fails the test.
 * `npm run test:browser`; CI runs it. Without /usr/bin/chromium the test is skipped, saying so.
 */
const HOSTNAME = 'audit.internal'
const STEP_TIMEOUT = 20000

if (NO_CHROMIUM !== undefined) {
  t.test(
    'Swagger UI in headless Chromium',
    { skip: NO_CHROMIUM },
    () => {}
  )
} else {
  t.test('Swagger UI from a non-loopback hostname over HTTP: log in, authorize, post the example, list with order=asc', async (t) => {
    const app = await build(t)
    await createUser(app, { username: 'ui-user', roles: ['admin', 'writer', 'reader'], tenant: 'ui-tenant' })
    // a type of the user's tenant, with an example, and one of another tenant, which must not be offered
    const billingExample = { amount: 12.5, currency: 'EUR' }
    const types = [['ui-tenant', 'BillingCharged', billingExample], ['ui-other', 'OtherTenantType', { other: true }]] as const
    for (const [tenant, type, example] of types) {
      const admin = await userWithToken(app, { username: `types-${tenant}`, roles: ['admin'], tenant })
      const registered = await app.inject({
        method: 'PUT',
        url: `/tenant/event-types/${type}`,
        headers: bearer(admin),
        payload: { schema: { type: 'object' }, description: `${type} events`, example }
      })
      t.equal(registered.statusCode, 201, `${type} registered in ${tenant}`)
    }
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const base = `http://${HOSTNAME}:${port}`

    const browser = await launchChromium(t, { hostname: HOSTNAME })
    const page: Page = await browser.newPage()
    page.setDefaultTimeout(STEP_TIMEOUT)

    const problems: string[] = []
    page.on('console', (message) => { if (message.type() === 'error') problems.push(`console error: ${message.text()}`) })
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`))
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`))
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`)
      if (!response.url().startsWith(base) && !response.url().startsWith('data:')) {
        problems.push(`request left the service: ${response.url()}`)
      }
    })

    const loaded = await page.goto(`${base}/docs`, { waitUntil: 'networkidle0' })
    t.equal(loaded?.status(), 200, 'the page loads by hostname over HTTP')
    t.equal(await page.title(), 'Audit Log Service: API', 'titled as this service')
    await page.waitForSelector('#swagger-ui .information-container .title')
    t.match(
      await page.$eval('#swagger-ui .information-container .title', (element) => element.textContent),
      /Audit Log Service/,
      'the document is rendered'
    )
    t.equal(await page.$('#swagger-ui .topbar'), null, 'no framework top bar (logo, Explore box)')

    /**
     * Replaces a field's text at once, as a paste does. Typed key by key, Swagger UI rendered the whole document again
     * for every key: the token alone (some 300 keys) took most of this test's minute of CPU on a loaded machine.
     */
    async function fill (selector: string, text: string): Promise<void> {
      await page.waitForSelector(selector)
      await page.$eval(selector, (element, value) => {
        // React keeps its own copy of a controlled field's value: set it through the prototype's setter, then say so
        Object.getOwnPropertyDescriptor(Object.getPrototypeOf(element), 'value')?.set?.call(element, value)
        element.dispatchEvent(new Event('input', { bubbles: true }))
      }, text)
    }

    /** A field's text, once the field is there: Swagger UI renders a body's textarea after the operation's buttons. */
    async function valueOf (selector: string): Promise<string> {
      await page.waitForSelector(selector)
      return await page.$eval(selector, (element) => (element as unknown as { value: string }).value)
    }

    /** Opens an operation and returns its block's selector, in "Try it out" mode. */
    async function openOperation (tag: string, operationId: string): Promise<string> {
      const block = `#operations-${tag}-${operationId}`
      await page.click(`${block} .opblock-summary`)
      await page.waitForSelector(`${block} .opblock-body`)
      const tryOut = await page.$(`${block} .try-out__btn`)
      if (tryOut !== null && (await tryOut.evaluate((button) => button.textContent ?? '')).includes('Try it out')) await tryOut.click()
      await page.waitForSelector(`${block} .execute`)
      return block
    }

    /**
     * Executes the open operation (`method` on `path`): the URL Swagger UI sent, and the status and body that came
     * back, from the network. Read from the page they could be the previous answer: an operation executed again shows
     * its last response until the new one is rendered, and a CI run read the unfiltered list as the filtered one's.
     */
    async function execute (block: string, method: string, path: string): Promise<{ status: number, body: string, url: string }> {
      const answered = page.waitForResponse((response) =>
        response.request().method() === method && new URL(response.url()).pathname === path)
      await page.click(`${block} .execute`)
      const response = await answered
      await page.waitForSelector(`${block} .live-responses-table .response .response-col_status`)
      return { status: response.status(), body: await response.text(), url: response.url() }
    }

    // 1. POST /login with Try it out; the example says where the embedded default's password is
    const login = await openOperation('auth', 'login')
    const loginExample = await valueOf(`${login} textarea.body-param__text`)
    t.match(loginExample, /data\/admin-password\.txt/, 'the login example says where the admin password is')
    await fill(`${login} textarea.body-param__text`, JSON.stringify({ username: 'ui-user', password: TEST_PASSWORD, tenant: 'ui-tenant' }))
    const loggedIn = await execute(login, 'POST', '/login')
    t.equal(loggedIn.status, 200, 'login answers 200')
    const token = (JSON.parse(loggedIn.body) as { access_token: string }).access_token
    t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT came back')

    // 2. Authorize with the token: the document is loaded again, with it
    const reloaded = page.waitForResponse((response) =>
      new URL(response.url()).pathname === '/docs/json' && response.request().headers().authorization === `Bearer ${token}`)
    await page.click('.auth-wrapper .authorize')
    await page.waitForSelector('.modal-ux input')
    await fill('.modal-ux input', token)
    await page.click('.modal-ux .auth-btn-wrapper .authorize')
    await page.waitForSelector('.modal-ux .auth-btn-wrapper .btn-done')
    await page.click('.modal-ux .auth-btn-wrapper .btn-done')
    await page.waitForSelector('.modal-ux', { hidden: true })
    t.equal((await reloaded).status(), 200, 'the document is loaded again with the token')

    // 3. POST /events with the prefilled example
    const create = await openOperation('events', 'createEvent')
    const example = await valueOf(`${create} textarea.body-param__text`)
    t.match(example, /john_mayor/, 'the body is prefilled with the brief\'s example')
    const created = await execute(create, 'POST', '/events')
    t.equal(created.status, 201, `the example event is stored (${created.body.slice(0, 200)})`)
    const id = (JSON.parse(created.body) as { id: string }).id

    // 3b. the tenant's type is offered as an example; picked, it fills the body, and it is accepted
    const exampleSelect = `${create} .examples-select select`
    await page.waitForSelector(`${exampleSelect} option[value="type:BillingCharged"]`)
    const examples = await page.$$eval(`${exampleSelect} option`, (options) =>
      options.map((option) => (option as unknown as { value: string }).value))
    t.same(examples, ['brief-sample', 'type:BillingCharged'], "the brief's sample and the tenant's type, not another tenant's")
    await page.select(exampleSelect, 'type:BillingCharged')
    const bodyInput = `${create} textarea.body-param__text`
    await page.waitForFunction(`document.querySelector(${JSON.stringify(bodyInput)}).value.includes('BillingCharged')`)
    const pickedText = await valueOf(bodyInput)
    const picked = JSON.parse(pickedText) as Record<string, unknown>
    t.same(picked, { ...JSON.parse(example) as object, event_type: 'BillingCharged', event_specificdetails: billingExample },
      "the body is an event of the type, its details the type's example")
    const charged = page.waitForResponse((response) => new URL(response.url()).pathname === '/events' && response.request().method() === 'POST')
    await page.click(`${create} .execute`)
    const chargedResponse = await charged
    t.equal(chargedResponse.status(), 201, 'the picked example is stored')
    t.equal(((await chargedResponse.json()) as { status: string }).status, 'created')

    // 4. GET /events with order=asc picked in the dropdown (one enum, both values offered)
    const list = await openOperation('events', 'listEvents')
    const orderSelect = `${list} tr[data-param-name="order"] select`
    const offered = await page.$$eval(`${orderSelect} option`, (options) =>
      options.map((option) => (option as unknown as { value: string }).value)
    )
    t.ok(offered.includes('asc') && offered.includes('desc'), `the order dropdown offers asc and desc (${offered.join(', ')})`)
    await page.select(orderSelect, 'asc')
    const listed = await execute(list, 'GET', '/events')
    t.equal(listed.status, 200, 'the list answers 200')
    t.match(listed.url, /[?&]order=asc(&|$)/, 'the request carried order=asc')
    t.ok((JSON.parse(listed.body) as { items: Array<{ id: string }> }).items.some((event) => event.id === id), 'the posted event is listed')

    // 5. and with a details filter, given as a JSON map: Swagger UI sends it as a deepObject
    const detailsInput = `${list} tr[data-param-name="details"] textarea`
    t.equal((await valueOf(detailsInput)).trim(), '{}', 'no filter prefilled')
    await fill(detailsInput, JSON.stringify({ account_number: '94859' }))
    const filtered = await execute(list, 'GET', '/events')
    t.equal(filtered.status, 200, 'the details filter answers 200')
    t.match(decodeURIComponent(filtered.url), /[?&]details\[account_number\]=94859(&|$)/, 'sent as details[account_number]=94859')
    t.same(
      (JSON.parse(filtered.body) as { items: Array<{ id: string }> }).items.map((event) => event.id),
      [id],
      'it finds the example event'
    )

    // 6. a page loaded again while authorized loads the document with the token at once; after Logout, without it
    const withToken = page.waitForResponse((response) => new URL(response.url()).pathname === '/docs/json')
    await page.reload({ waitUntil: 'networkidle0' })
    t.equal((await withToken).request().headers().authorization, `Bearer ${token}`, 'reloaded, the persisted token loads the document')
    await page.click('.auth-wrapper .authorize')
    const withoutToken = page.waitForResponse((response) => new URL(response.url()).pathname === '/docs/json')
    await page.click('.modal-ux .auth-btn-wrapper button::-p-text(Logout)')
    t.equal((await withoutToken).request().headers().authorization, undefined, 'after Logout, the static document is loaded again')

    t.same(problems, [], 'no console error, page error, failed request or failed asset')
  })
}
