/**
 * A server-rendered notes app (Express 5) whose reads go to PostgreSQL read replicas through
 * prisma-replica-router, and whose users always see the note they just created, even when the replicas lag.
 *
 * - `GET /`                  lists the notes, newest first (a replica, unless this browser wrote recently)
 * - `POST /notes`            creates a note (form fields `title`, `content`), then 303 → `/`
 * - `POST /notes/:id/delete` deletes a note, then 303 → `/`
 *
 * Read-your-writes across the redirect: every request runs in its own scope (`runInScope`), seeded with the
 * consistency token of this browser's last write, which a write hands over in the `rw` cookie. See README.md.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express, { type Express, type NextFunction, type Request, type Response } from 'express'
import type { Note, PrismaClient } from '../../generated/prisma/client.ts'
import { readReplicas, runInScope, type ReadReplicasOptions } from 'prisma-replica-router'

/** A Prisma client extended with `readReplicas()`: what {@link createNotesApp} reads and writes through. */
export type RoutedPrismaClient = ReturnType<typeof withReadReplicas>

/** `primary.$extends(readReplicas(options))`, typed for this app's generated client. */
export function withReadReplicas(primary: PrismaClient, options: ReadReplicasOptions) {
  return primary.$extends(readReplicas(options))
}

/** Name of the cookie carrying the consistency token of this browser's last write. */
export const CONSISTENCY_COOKIE = 'rw'

/**
 * How long the token is kept (seconds). It only has to outlive the replicas' replay delay: once a replica has
 * replayed the write, reads with the token go to replicas again; a stale token costs nothing but a cookie.
 */
export const CONSISTENCY_COOKIE_MAX_AGE_S = 60

/** At most this many notes are listed (newest first). */
export const LIST_LIMIT = 100

const MAX_TITLE = 200
const MAX_CONTENT = 10_000
const MAX_INT4 = 2_147_483_647

export interface NotesAppOptions {
  /** Called once per request, before it is handled, e.g. to print it next to the routing decisions. */
  readonly onRequest?: (line: string) => void
}

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;')
}

/** The value of one cookie in a `Cookie` request header (RFC 6265 `name=value; name2=value2`), if present. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue
    let value = pair.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    try {
      return decodeURIComponent(value)
    } catch {
      return undefined // malformed %-escape: treated as absent (the scope then starts clean)
    }
  }
  return undefined
}

const styles = `
  body { font-family: system-ui, Arial, sans-serif; line-height: 1.5; margin: 0; padding: 20px; color: #222; }
  .container { max-width: 800px; margin: 0 auto; }
  form.create input, form.create textarea { box-sizing: border-box; width: 100%; padding: 10px; margin-bottom: 10px; font: inherit; }
  button { background: #2e7d32; color: #fff; padding: 8px 14px; border: 0; cursor: pointer; font: inherit; }
  button.delete { background: #b71c1c; }
  ul { list-style: none; padding: 0; }
  li { background: #f4f4f4; margin-bottom: 10px; padding: 10px 14px; }
  li h3 { margin: 0 0 4px; overflow-wrap: anywhere; }
  li p { margin: 0 0 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
  li .meta { display: flex; justify-content: space-between; align-items: center; color: #666; }
  .error { color: #b71c1c; }
`

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(title)}</title>
    <style>${styles}</style>
  </head>
  <body>
    <div class="container">
${body}
    </div>
  </body>
</html>
`
}

function noteItem(note: Note): string {
  const created = note.createdAt.toISOString()
  return `      <li class="note" data-id="${String(note.id)}">
        <h3>${escapeHtml(note.title)}</h3>
        ${note.content === '' ? '' : `<p>${escapeHtml(note.content)}</p>`}
        <div class="meta">
          <small>Created <time datetime="${created}">${escapeHtml(created.replace('T', ' ').slice(0, 19))} UTC</time></small>
          <form method="post" action="/notes/${String(note.id)}/delete">
            <button type="submit" class="delete" aria-label="Delete ${escapeHtml(note.title)}">Delete</button>
          </form>
        </div>
      </li>`
}

function listPage(notes: Note[], error?: string): string {
  const items = notes.length === 0 ? '      <li class="empty">No notes yet.</li>' : notes.map(noteItem).join('\n')
  return page(
    'Notes',
    `      <h1>Notes</h1>
      <form class="create" method="post" action="/notes">
        ${error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>`}
        <input type="text" name="title" placeholder="Title" aria-label="Title" required maxlength="${String(MAX_TITLE)}">
        <textarea name="content" placeholder="Content" aria-label="Content" rows="3" maxlength="${String(MAX_CONTENT)}"></textarea>
        <button type="submit">Add note</button>
      </form>
      <ul>
${items}
      </ul>`,
  )
}

function messagePage(heading: string): string {
  return page(heading, `      <h1>${escapeHtml(heading)}</h1>\n      <p><a href="/">Back to the notes</a></p>`)
}

/** A form field as a string ('' when absent or not a single string). */
function field(body: unknown, name: string): string {
  if (typeof body !== 'object' || body === null) return ''
  const value = (body as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : ''
}

/**
 * The Express app over `prisma` (a client extended with `readReplicas()`). Every request runs in its own
 * read-your-writes scope, seeded from the `rw` cookie; every write sets that cookie for the next request.
 */
export function createNotesApp(prisma: RoutedPrismaClient, options: NotesAppOptions = {}): Express {
  const app = express()
  app.disable('x-powered-by')

  app.use((req, res, next) => {
    res.set({
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    })
    next()
  })

  // Form bodies first, so that everything after it (the handlers) runs inside the request's scope.
  app.use(express.urlencoded({ extended: false, limit: '64kb' }))

  // One read-your-writes scope per request, starting from this browser's last write (if any): a redirect after
  // a write is a NEW request, and only the token carries the write over to it.
  app.use((req, _res, next) => {
    const token = readCookie(req.headers.cookie, CONSISTENCY_COOKIE)
    options.onRequest?.(`${req.method} ${req.originalUrl}${token === undefined ? '' : ` (rw=${token})`}`)
    runInScope(next, { token })
  })

  /** After a write: hand its consistency token to the next request of this browser. */
  async function rememberWrite(req: Request, res: Response): Promise<void> {
    const token = await prisma.$consistencyToken()
    if (token === undefined) return
    res.cookie(CONSISTENCY_COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: req.secure,
      path: '/',
      maxAge: CONSISTENCY_COOKIE_MAX_AGE_S * 1000,
    })
  }

  const listNotes = () => prisma.note.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: LIST_LIMIT })

  app.get('/', async (_req, res) => {
    res.type('html').send(listPage(await listNotes()))
  })

  app.post('/notes', async (req, res) => {
    const title = field(req.body, 'title').trim()
    const content = field(req.body, 'content').replaceAll('\r\n', '\n')
    const problem =
      title === ''
        ? 'A note needs a title.'
        : title.length > MAX_TITLE
          ? `The title is longer than ${String(MAX_TITLE)} characters.`
          : content.length > MAX_CONTENT
            ? `The content is longer than ${String(MAX_CONTENT)} characters.`
            : undefined
    if (problem !== undefined) {
      res
        .status(400)
        .type('html')
        .send(listPage(await listNotes(), problem))
      return
    }
    await prisma.note.create({ data: { title, content } })
    await rememberWrite(req, res)
    res.redirect(303, '/')
  })

  app.post('/notes/:id/delete', async (req, res) => {
    const raw = req.params.id
    const id = /^[0-9]{1,10}$/.test(raw) ? Number(raw) : NaN
    if (!(id >= 1 && id <= MAX_INT4)) {
      res.status(404).type('html').send(messagePage('Note not found'))
      return
    }
    // deleteMany: a note deleted twice (double submit, two tabs) is a 404 page, not an exception.
    const { count } = await prisma.note.deleteMany({ where: { id } })
    await rememberWrite(req, res)
    if (count === 0) {
      res.status(404).type('html').send(messagePage('Note not found'))
      return
    }
    res.redirect(303, '/')
  })

  app.use((_req, res) => {
    res.status(404).type('html').send(messagePage('Not found'))
  })

  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error)
      return
    }
    const status = (error as { status?: unknown } | null)?.status
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // A client error from Express itself, e.g. an oversized or malformed form body.
      res.status(status).type('html').send(messagePage('Bad request'))
      return
    }
    console.error('notes app: request failed:', error)
    res.status(500).type('html').send(messagePage('Something went wrong'))
  })

  return app
}

/** Starts `app` on `host:port` (port 0: a free one); resolves once it listens. */
export async function listen(app: Express, port: number, host: string): Promise<{ server: Server; url: string }> {
  const server = createServer(app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return { server, url: `http://${hostPart}:${String(address.port)}` }
}

/** Stops accepting connections, closes idle keep-alive ones, and resolves when the server is closed. */
export async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.close((error) => {
      if (error) reject(error)
      else resolve()
    })
    server.closeIdleConnections()
  })
}
