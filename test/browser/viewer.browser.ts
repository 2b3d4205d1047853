import t from 'tap'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { ObjectId } from 'mongodb'
import { parse } from 'csv-parse/sync'
import type { Page } from 'puppeteer-core'
import { launchChromium, NO_CHROMIUM } from '../fixtures/chromium.js'
import { bearer, build, TEST_PASSWORD, userWithToken } from '../helper.js'

/**
 * The viewer at /ui in a real browser (Debian's chromium through puppeteer-core): log in, search by a
 * field and by a details pair, page with "load more", narrow the range by clicking the timeline, export
 * CSV, open an event and verify it, tamper with it in the database and see verification fail, and manage
 * users. Any console error, page error, failed request or 5xx fails the test. Screenshots of every step go
 * to the folder printed first (VIEWER_SCREENSHOTS, or a new one under the system's temp folder: never
 * inside the repository). Without /usr/bin/chromium the test is skipped, saying so.
 */
const HOSTNAME = 'audit.internal'
const STEP_TIMEOUT = 20000
const TENANT = 'viewer-tenant'

if (NO_CHROMIUM !== undefined) {
  t.test(
    'the viewer in headless Chromium',
    { skip: NO_CHROMIUM },
    () => {}
  )
} else {
  t.test('the viewer: log in, search, load more, timeline, export, detail, verify, users', async (t) => {
    // an erasure is done this long after its rewrite (the followers' tails hold nothing older): short here
    const app = await build(t, { config: { STREAM_TAIL_MAX_AGE_MS: 100 } })
    const token = await userWithToken(app, { username: 'auditor', roles: ['admin', 'writer', 'reader'], tenant: TENANT })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const base = `http://${HOSTNAME}:${port}`

    const shots = process.env.VIEWER_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'audit-log-viewer-screenshots-'))
    mkdirSync(shots, { recursive: true })
    t.comment(`screenshots: ${shots}`)
    const downloads = mkdtempSync(join(tmpdir(), 'audit-log-viewer-downloads-'))
    t.teardown(() => rmSync(downloads, { recursive: true, force: true }))

    // 60 events: 50 fill the first page, "load more" brings the rest; 3 Rare ones, 2 with a visa card
    const events = Array.from({ length: 60 }, (_, i) => ({
      event_type: i % 20 === 7 ? 'Rare' : 'AccountCreated',
      username: `user-${i}`,
      entitytype: 'customer_account',
      ip: '192.168.0.1',
      location: 'New York',
      description: `Event number ${i}`,
      event_specificdetails: i === 3 || i === 40 ? { card: { brand: 'visa' }, n: i } : { n: i }
    }))
    const posted = await app.inject({ method: 'POST', url: '/events/batch', headers: bearer(token), payload: { events } })
    t.equal(posted.statusCode, 200, `events posted (${posted.body.slice(0, 120)})`)

    const browser = await launchChromium(t, { hostname: HOSTNAME, secureOrigin: base })
    const page: Page = await browser.newPage()
    page.setDefaultTimeout(STEP_TIMEOUT)
    await page.setViewport({ width: 1280, height: 800 })
    const cdp = await page.createCDPSession()
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads })

    const problems: string[] = []
    page.on('console', (message) => { if (message.type() === 'error') problems.push(`console error: ${message.text()}`) })
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`))
    page.on('requestfailed', (request) => {
      // a search that a newer one replaced is cancelled on purpose (ERR_ABORTED)
      if (!request.url().startsWith('blob:') && request.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`)
    })
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`)
      if (!/^(blob:|data:)/.test(response.url()) && !response.url().startsWith(base)) {
        problems.push(`request left the service: ${response.url()}`)
      }
    })

    let step = 0
    const shoot = async (name: string) => { await page.screenshot({ path: join(shots, `${String(++step).padStart(2, '0')}-${name}.png`) }) }
    /** Waits until the results show `count` rows and the status says they are loaded. */
    const waitForRows = async (count: number) => {
      // a string: the page's globals (document, location) are not in the test's TypeScript lib
      await page.waitForFunction(
        `document.querySelectorAll('#results-body tr:not(.placeholder)').length === ${count} && !document.getElementById('results-status').textContent.startsWith('Loading')`
      )
    }
    const params = () => new URL(page.url()).searchParams

    // 1. the page, its CSP, and the login form
    const loaded = await page.goto(`${base}/ui`, { waitUntil: 'networkidle0' })
    t.equal(loaded?.status(), 200, '/ui loads')
    t.notMatch(loaded?.headers()['content-security-policy'] ?? '', /unsafe-inline|unsafe-eval/, 'a strict CSP')
    await page.waitForSelector('#login-view:not([hidden])')
    const unlabelled = await page.$$eval('input, select, textarea', (controls) =>
      controls
        .filter((control) => control.closest('label') === null && control.getAttribute('aria-label') === null)
        .map((control) => control.id || control.outerHTML)
    )
    t.same(unlabelled, [], 'every control has a label')
    await shoot('login')
    await page.type('#login-username', 'auditor')
    await page.type('#login-password', TEST_PASSWORD)
    await page.type('#login-tenant', TENANT)
    await page.keyboard.press('Enter')

    // 2. newest first, a page of 50, then "load more"
    await waitForRows(50)
    t.equal(await page.$eval('#who', (element) => element.textContent), `auditor @ ${TENANT}`, 'logged in as the user')
    const stored = await page.evaluate('Object.keys(sessionStorage).length')
    t.equal(stored, 1, 'the session is in sessionStorage')
    t.same(await page.cookies(), [], 'and never in a cookie')
    t.match(await page.$eval('#results-body tr td:nth-child(8)', (cell) => cell.textContent), 'Event number 59', 'newest first')
    t.match(await page.$eval('#results-body time', (time) => time.getAttribute('title')), /Z \(UTC\)$/, 'UTC on hover')
    await shoot('results')
    t.ok(await page.$eval('#load-more', (button) => !button.hidden), '"load more" is offered')
    await page.click('#load-more')
    await waitForRows(60)
    t.ok(await page.$eval('#load-more', (button) => button.hidden), 'no more after the last page')
    await shoot('load-more')

    // 3. by a field: the URL holds it
    await page.type('#filter-event_type', 'Rare')
    await page.click('#search-submit')
    await waitForRows(3)
    t.same(params().getAll('event_type'), ['Rare'], 'the search is in the URL')
    t.same(
      await page.$$eval('#results-body tr td:nth-child(3)', (cells) => cells.map((cell) => cell.textContent)),
      ['Rare', 'Rare', 'Rare'],
      'only Rare events'
    )
    await shoot('by-field')

    // 4. by a details pair, after clearing; reloading the page keeps the search
    await page.click('#clear-filters')
    await waitForRows(50)
    await page.click('#add-detail')
    await page.type('#details-rows .details-row input[name="details-path"]', 'card.brand')
    await page.type('#details-rows .details-row input[name="details-value"]', 'visa')
    await page.click('#search-submit')
    await waitForRows(2)
    t.equal(params().get('details.card.brand'), 'visa', 'the details pair is in the URL')
    await page.reload({ waitUntil: 'networkidle0' })
    await waitForRows(2)
    t.equal(
      await page.$eval('#details-rows input[name="details-value"]', (input) => (input as unknown as { value: string }).value),
      'visa',
      'a reload restores the search (and the session)'
    )
    t.same(
      await page.$$eval('#results-body tr td:nth-child(8)', (cells) => cells.map((cell) => cell.textContent)),
      ['Event number 40', 'Event number 3'],
      'the two visa events'
    )
    await shoot('by-details')

    // 5. a bad time is said before asking, in words, beside the field; the rows shown stay, said to be stale
    await page.click('#clear-filters')
    await waitForRows(50)
    await page.type('#timeStart', 'yesterday')
    await page.click('#search-submit')
    await page.waitForFunction("document.getElementById('range-error').textContent !== ''")
    t.match(await page.$eval('#range-error', (element) => element.textContent), /RFC 3339/, 'an invalid time is explained beside the field')
    t.ok(await page.$eval('#timeStart', (element) => element.hasAttribute('aria-invalid')), 'the field is marked invalid')
    t.match(await page.$eval('#results-status', (element) => element.textContent), /Not updated/, 'the list says it is not this search')
    t.equal(await page.$$eval('#results-body tr:not(.placeholder)', (rows) => rows.length), 50, 'and keeps its rows')
    await shoot('bad-time')

    // 6. last 15 minutes, then a click on the fullest bar narrows the range to it
    await page.click('.quick button[data-range="900000"]')
    await waitForRows(50)
    await page.waitForSelector('#chart .u-over')
    const histogram = (
      await app.inject({
        method: 'GET',
        url: `/events/histogram?timeStart=${params().get('timeStart') ?? ''}&timeEnd=${params().get('timeEnd') ?? ''}&interval=1m`,
        headers: bearer(token)
      })
    ).json() as { buckets: Array<{ start: string; count: number }> }
    const fullest = histogram.buckets.reduce(
      (best, bucket, index) => (bucket.count > (histogram.buckets[best]?.count ?? -1) ? index : best),
      0
    )
    const bucket = histogram.buckets[fullest] as { start: string, count: number }
    await shoot('timeline')
    const over = await page.$('#chart .u-over')
    const box = await over?.boundingBox()
    if (box === null || box === undefined) throw new Error('the chart has no plot area')
    // the middle of the bar: the x axis spans the buckets with half a bucket to spare each side
    const x = box.x + box.width * (fullest + 0.5) / histogram.buckets.length
    await page.mouse.move(x, box.y + box.height / 2)
    await page.mouse.click(x, box.y + box.height / 2)
    // the bar's minute, inside the 15 minutes searched (the first and last bars stick out of them)
    const narrowed = {
      start: new Date(Math.max(Date.parse(bucket.start), Date.parse(params().get('timeStart') ?? ''))).toISOString(),
      end: new Date(Math.min(Date.parse(bucket.start) + 60_000, Date.parse(params().get('timeEnd') ?? ''))).toISOString()
    }
    await page.waitForFunction(`new URL(location.href).searchParams.get('timeStart') === '${narrowed.start}'`)
    t.equal(params().get('timeStart'), narrowed.start, 'the range starts where the bar does')
    t.equal(params().get('timeEnd'), narrowed.end, 'and ends where it ends')
    await waitForRows(Math.min(50, bucket.count))
    await shoot('narrowed')
    // the chart from the keyboard: focusable, arrows move between its bars
    await page.waitForSelector('#chart .u-over[tabindex="0"]')
    await page.focus('#chart .u-over')
    await page.keyboard.press('ArrowRight')
    t.equal(await page.$eval('#chart .u-over', (element) => element.getAttribute('aria-valuenow')), '0', 'ArrowRight shows the first bar')
    t.match(await page.$eval('#chart .u-over', (element) => element.getAttribute('aria-valuetext')), / events$/, 'and says its count')

    // 7. export the narrowed search as CSV
    await page.click('#export-csv')
    let csvFile: string | undefined
    while (csvFile === undefined) {
      csvFile = readdirSync(downloads).find((name) => name.endsWith('.csv'))
      if (csvFile === undefined) await sleep(100)
    }
    const records = parse(readFileSync(join(downloads, csvFile), 'utf8'), { columns: true }) as Array<Record<string, string>>
    t.equal(records.length, bucket.count, 'the CSV holds the narrowed search, every row')
    t.ok(records.every((record) => Date.parse(record.timestamp ?? '') >= Date.parse(bucket.start)), 'all inside the range')

    // 8. an event's detail: every field, the details as a tree; Escape closes
    await page.click('#clear-filters')
    await waitForRows(50)
    await page.focus('#results-body tr')
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#detail[open] dd[data-field="id"]')
    const id = await page.$eval('#detail dd[data-field="id"]', (element) => element.textContent ?? '')
    t.match(id, /^[0-9a-f]{24}$/, 'the detail shows the id')
    t.match(await page.$eval('#detail-json', (element) => element.textContent), /"n"/, 'event_specificdetails as a tree')
    await shoot('detail')

    // 9. Verify, once issue #13's API is there; then tamper with the event in the database
    const keys = await app.inject({ method: 'GET', url: '/integrity/keys' })
    const full = (await app.inject({ method: 'GET', url: `/events/${id}`, headers: bearer(token) })).json() as { hash?: string }
    if (keys.statusCode !== 200 || full.hash === undefined) {
      t.comment(
        `verify step skipped: GET /integrity/keys answered ${keys.statusCode} and GET /events/{id} ${full.hash === undefined ? 'has no hash' : 'has a hash'} (issue #13 not merged yet)`
      )
    } else {
      // a checkpoint must cover the event first: wait for its proof (a 404 in the page would log a console error)
      while ((await app.inject({ method: 'GET', url: `/events/${id}/proof`, headers: bearer(token) })).statusCode !== 200) await sleep(200)
      await page.click('#verify')
      await page.waitForSelector('#verify-result.verified, #verify-result.failed')
      t.equal(
        await page.$eval('#verify-result', (element) => element.className),
        'verified',
        `verified (${await page.$eval('#verify-steps', (element) => element.textContent)})`
      )
      await shoot('verified')
      // the stored event changed behind the service's back: only its description; the page recomputes the leaf from the fields
      await app.mongo.db?.collection('events').updateOne({ _id: new ObjectId(id) }, { $set: { description: 'Nothing happened' } })
      await page.keyboard.press('Escape')
      await page.focus('#results-body tr')
      await page.keyboard.press('ArrowDown')
      await page.keyboard.press('Enter')
      await page.waitForFunction('document.querySelector(\'#detail dd[data-field="description"]\')?.textContent === \'Nothing happened\'')
      await page.click('#verify')
      await page.waitForSelector('#verify-result.verified, #verify-result.failed')
      t.equal(await page.$eval('#verify-result', (element) => element.className), 'failed', 'the tampered event fails verification')
      await shoot('tampered')

      // an event erased by a data-subject request (issue #18): the page says so, and it still verifies
      await page.keyboard.press('Escape')
      const erasedId = await page.$$eval(
        '#results-body tr',
        (rows) => (rows[2] as unknown as { dataset: { id?: string } } | undefined)?.dataset.id ?? ''
      )
      const erasure = await app.inject({
        method: 'POST',
        url: '/tenant/erasures',
        headers: bearer(token),
        payload: { match: { event_ids: [erasedId] }, reason: 'viewer test' }
      })
      t.equal(erasure.statusCode, 202, 'an erasure of the third event is accepted')
      app.erasureWorker.pause = async () => {}
      while (
        (await app.inject({ method: 'GET', url: `/tenant/erasures/${erasure.json().id as string}`, headers: bearer(token) })).json()
          .state !== 'done'
      ) { await app.erasureWorker.run() }
      // the erased event's Verify proves the erasure's own entry in the tree too: wait until a checkpoint covers it
      const through = await app.sequencer.settledThrough(TENANT)
      const covering = await app.inject({ method: 'GET', url: `/integrity/checkpoint?min_tree_size=${through}`, headers: bearer(token) })
      t.equal(covering.statusCode, 200, `a checkpoint covers the erasure's entry (${covering.body.slice(0, 120)})`)
      await page.focus('#results-body tr')
      await page.keyboard.press('ArrowDown')
      await page.keyboard.press('ArrowDown')
      await page.keyboard.press('Enter')
      await page.waitForFunction('document.querySelector(\'#detail dd[data-field="description"]\')?.textContent === \'erased\'')
      t.equal(
        await page.$eval('#detail dd[data-field="username"] .erased', (element) => element.textContent),
        'erased',
        'an erased field reads "erased", not "null"'
      )
      await page.click('#verify')
      await page.waitForSelector('#verify-result.verified, #verify-result.failed')
      t.equal(
        await page.$eval('#verify-result', (element) => element.className),
        'verified',
        `the erased event still verifies (${await page.$eval('#verify-steps', (element) => element.textContent)})`
      )
      await shoot('erased')
    }
    await page.keyboard.press('Escape')
    await page.waitForSelector('#detail:not([open])')

    // 10. users: create one, disable it
    await page.click('#nav-users')
    await page.waitForSelector('#users-body tr[data-username="auditor"]')
    await page.type('#new-username', 'new-reader')
    await page.type('#new-password', 'a long enough password')
    await page.click('#create-user')
    await page.waitForSelector('#users-body tr[data-username="new-reader"]')
    await page.click('#users-body tr[data-username="new-reader"] button[aria-label="Disable new-reader"]')
    await page.waitForFunction(
      "document.querySelector('#users-body tr[data-username=\"new-reader\"] td:nth-child(3)')?.textContent === 'disabled'"
    )
    t.pass('a user is created and disabled from the page')
    await shoot('users')

    // 11. a narrow window still reads
    await page.click('#nav-search')
    await waitForRows(50)
    await page.setViewport({ width: 420, height: 800 })
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    t.equal(overflow, 0, 'no sideways scrolling of the page at 420 px (the table scrolls in its own box)')
    await shoot('narrow')

    // 12. an expired session is noticed: the page asks to log in again
    // (the session is made to end a second from now; the page's own timer notices, no click needed)
    await page.evaluate(
      'for (const key of Object.keys(sessionStorage)) sessionStorage.setItem(key, JSON.stringify({ ...JSON.parse(sessionStorage.getItem(key)), expiresAt: Date.now() + 1000 }))'
    )
    await page.reload({ waitUntil: 'networkidle0' })
    await page.waitForSelector('#login-view:not([hidden])')
    t.match(
      await page.$eval('#login-notice', (element) => element.textContent),
      /expired/,
      'the page says the session expired and asks to log in again'
    )
    t.equal(await page.evaluate('Object.keys(sessionStorage).length'), 0, 'and forgets the token')
    await shoot('expired')

    t.same(problems, [], 'no console error, page error, failed request or failed response')
  })
}
