/**
 * examples/notes end to end, in a real browser (Debian's Chromium driven by playwright-core), on the shared
 * primary + 2 streaming replicas, with both replicas replaying WAL 300 ms late.
 *
 * The classic failure of "create, then redirect to the list" with read replicas: the redirected GET is a new
 * request, served by a replica that has not replayed the insert yet, so the new note is missing. The app
 * carries the write across the redirect in the `rw` cookie (a consistency token); these tests prove that the
 * note is there after the redirect, that the cookie is what makes it so, and that without read-your-writes the
 * same flow really does miss the note under this lag.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, afterEach, describe, expect, it, type TestContext } from 'vitest'
import { close, CONSISTENCY_COOKIE, CONSISTENCY_COOKIE_MAX_AGE_S, createNotesApp, listen } from '../../examples/notes/app.ts'
import type { ReadReplicasOptions, RouteEvent } from '../../src/index.ts'
import { healReplicas, replicaNames, requireCluster, routedClient, unique, waitForReplication } from '../support/db.ts'

const CHROMIUM = '/usr/bin/chromium'
const LAG_MS = 300
const ATTEMPTS = 5

afterEach(healReplicas)

let browser: Browser | undefined
afterAll(async () => {
  await browser?.close()
})

/** The shared headless Chromium; skips the calling test when Debian's chromium is not installed. */
async function launchBrowser(ctx: TestContext): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    ctx.skip(`needs a real browser: ${CHROMIUM} not found (Debian/Ubuntu: apt-get install -y chromium)`)
  }
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  return browser
}

/** The notes app over a routed client of the test topology, on 127.0.0.1:<free port>, with its route events. */
async function startApp(options: Omit<ReadReplicasOptions, 'replicas' | 'onRoute'>) {
  const { prisma, events } = routedClient(options)
  const { server, url } = await listen(createNotesApp(prisma), 0, '127.0.0.1')
  return {
    url,
    events,
    async stop() {
      await close(server)
      await prisma.$disconnect()
    },
  }
}

type App = Awaited<ReturnType<typeof startApp>>

/** Note events (model `Note`) recorded since `from`, without the routed client's internal queries. */
const noteEvents = (events: RouteEvent[], from: number) => events.slice(from).filter((e) => e.model === 'Note')

/** The list item of the note titled exactly `title` on the current page (static HTML: no waiting needed). */
const noteItem = (page: Page, title: string) => page.locator('li.note').filter({ has: page.getByRole('heading', { level: 3, name: title, exact: true }) })

/**
 * Submits the form of the current page through `trigger` and waits until the page the browser lands on has
 * loaded (a new document: the `load` event of the old one has fired already). Returns the POST's own response.
 */
async function submitAndLand(page: Page, path: RegExp, trigger: () => Promise<void>) {
  const [post] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && path.test(new URL(r.url()).pathname)), page.waitForEvent('load'), trigger()])
  return post
}

/** Opens `/`, creates a note titled `title` with the form, and returns once the redirected-to page loaded. */
async function createThroughForm(page: Page, app: App, title: string) {
  await page.goto(`${app.url}/`)
  await page.getByLabel('Title').fill(title)
  await page.getByLabel('Content').fill(`content of ${title}`)
  const from = app.events.length
  const post = await submitAndLand(page, /^\/notes$/, () => page.getByRole('button', { name: 'Add note' }).click())
  return { post, events: noteEvents(app.events, from), listed: await noteItem(page, title).count() }
}

/** Where the list read of a page went, e.g. `primary (sticky: lsn)` or `replica-2 (read)`. */
const where = (e: RouteEvent | undefined) => (e === undefined ? 'nowhere' : `${e.replica ?? e.target} (${e.reason}${e.sticky ? `: ${e.sticky}` : ''})`)

describe('examples/notes in a real browser: read-your-writes across the redirect (300 ms replica lag)', () => {
  it('create → 303 → the list shows the note; delete → 303 → it is gone; the rw cookie is what carries the write', async (ctx) => {
    const cluster = requireCluster(ctx)
    const chrome = await launchBrowser(ctx)
    await waitForReplication()
    for (const name of replicaNames) await cluster.setReplicaLag(name, LAG_MS)

    const app = await startApp({}) // default sticky mode: LSN read-your-writes
    const context: BrowserContext = await chrome.newContext()
    const stranger: BrowserContext = await chrome.newContext() // another browser: no cookie of ours
    try {
      const page = await context.newPage()
      const strangerPage = await stranger.newPage()
      const afterCreate: string[] = []
      const afterDelete: string[] = []
      let strangerMisses = 0
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        // Markup in the title: it must be shown as text, never parsed as HTML.
        const title = unique(`<i>Note</i> & "quotes" 'n'`)
        const created = await createThroughForm(page, app, title)

        // At once, another browser (no cookie of ours) lists the notes: a plain read of a lagging replica. That is
        // what the redirect would get without the cookie; it also shows that scopes do not leak between requests.
        const before = app.events.length
        await strangerPage.goto(`${app.url}/`)
        if ((await noteItem(strangerPage, title).count()) === 0) strangerMisses += 1
        expect(noteEvents(app.events, before)).toMatchObject([{ operation: 'findMany', target: 'replica', reason: 'read' }])

        expect(created.post.status()).toBe(303)
        expect(created.post.headers().location).toBe('/')
        expect(page.url()).toBe(`${app.url}/`)
        // The check that fails without read-your-writes: the page after the redirect lists the new note …
        expect(created.listed, `attempt ${String(attempt + 1)}: the note is missing after the redirect`).toBe(1)
        // … and its list read went to the primary (the replicas had not replayed the insert) or to a replica
        // that had — never to a lagging replica as a plain read would.
        expect(created.events.map((e) => e.operation)).toEqual(['create', 'findMany'])
        expect(created.events[0]).toMatchObject({ target: 'primary', reason: 'write' })
        const listRead = created.events[1]!
        if (listRead.target === 'primary') expect(listRead).toMatchObject({ reason: 'sticky', sticky: 'lsn' })
        else expect(listRead).toMatchObject({ target: 'replica', reason: 'read' })
        afterCreate.push(where(listRead))

        // The title is text: no <i> element, and the heading reads exactly the title.
        const item = noteItem(page, title)
        expect(await item.locator('i').count()).toBe(0)
        expect(await item.getByRole('heading', { level: 3 }).textContent()).toBe(title)

        // The consistency token rides in a short-lived HttpOnly, SameSite=Lax cookie.
        const cookie = (await context.cookies(app.url)).find((c) => c.name === CONSISTENCY_COOKIE)
        expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' })
        expect(cookie!.value).toMatch(/^1\.[0-9a-f]+\.[0-9a-z]+$/)
        expect(cookie!.expires - Date.now() / 1000).toBeGreaterThan(0)
        expect(cookie!.expires - Date.now() / 1000).toBeLessThanOrEqual(CONSISTENCY_COOKIE_MAX_AGE_S + 1)

        // Delete with the note's button: the page the browser lands on no longer lists it.
        const from = app.events.length
        const deleted = await submitAndLand(page, /^\/notes\/\d+\/delete$/, () => item.getByRole('button', { name: 'Delete' }).click())
        expect(deleted.status()).toBe(303)
        expect(page.url()).toBe(`${app.url}/`)
        expect(await noteItem(page, title).count(), `attempt ${String(attempt + 1)}: the deleted note is still listed`).toBe(0)
        const deleteEvents = noteEvents(app.events, from)
        expect(deleteEvents.map((e) => e.operation)).toEqual(['deleteMany', 'findMany'])
        afterDelete.push(where(deleteEvents[1]))
      }
      console.info(
        `notes app, ${String(LAG_MS)} ms lag, ${String(ATTEMPTS)} create → redirect → delete → redirect in Chromium: ` +
          `list after create from ${afterCreate.join(', ')}; after delete from ${afterDelete.join(', ')}; ` +
          `a browser without the cookie missed the new note ${String(strangerMisses)}/${String(ATTEMPTS)} times`,
      )
      // Not a tautology: if the redirect's read were pinned by anything but the cookie (a shared scope), the
      // cookieless browser would see the note too.
      expect(strangerMisses).toBeGreaterThan(0)
    } finally {
      await Promise.all([context.close(), stranger.close()])
      await app.stop()
    }
  })

  it('control, sticky: false: the same create → redirect in the browser misses the new note (the lag is real)', async (ctx) => {
    const cluster = requireCluster(ctx)
    const chrome = await launchBrowser(ctx)
    await waitForReplication()
    for (const name of replicaNames) await cluster.setReplicaLag(name, LAG_MS)

    const app = await startApp({ sticky: false })
    const context = await chrome.newContext()
    try {
      const page = await context.newPage()
      const titles: string[] = []
      let misses = 0
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const title = unique('control-note')
        titles.push(title)
        const created = await createThroughForm(page, app, title)
        expect(created.post.status()).toBe(303)
        expect(created.events.map((e) => e.operation)).toEqual(['create', 'findMany'])
        expect(created.events[1]).toMatchObject({ target: 'replica', reason: 'read' })
        if (created.listed === 0) misses += 1
      }
      console.info(`control (sticky: false), ${String(LAG_MS)} ms lag: the redirected list missed the new note ${String(misses)}/${String(ATTEMPTS)} times`)
      expect(misses).toBeGreaterThan(0)

      // The notes were created all right: once the replicas have replayed them, the list shows every one.
      await waitForReplication()
      await page.reload()
      for (const title of titles) expect(await noteItem(page, title).count(), title).toBe(1)
    } finally {
      await context.close()
      await app.stop()
    }
  })
})
