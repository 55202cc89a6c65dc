/**
 * The catalog HTTP API (Express 5) over a Prisma client routed by prisma-replica-router:
 *
 * - `GET /catalog/authors`: every author, as JSON;
 * - `GET /catalog/books/:authorId`: the books of one author, as JSON; 404 for an unknown author, 400 for an id
 *   that is not an integer (digits only, like Django's `<int:…>`, up to PostgreSQL's INTEGER maximum).
 *
 * Every request runs in its own scope (`runInScope`): reads go to the replicas, and a request that writes reads its
 * own writes.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PrismaPg } from '@prisma/adapter-pg'
import express, { type Express } from 'express'
import { readReplicas, runInScope, type RouteEvent } from 'prisma-replica-router'
import { PrismaClient } from './generated/prisma/client.ts'

/** A plain (unrouted) client of the catalog schema. */
export function newCatalogPrismaClient(url: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
}

/** Options of {@link createCatalogClient}. */
export interface CatalogClientOptions {
  /** The primary: every write goes there. */
  readonly primaryUrl: string
  /** The streaming replicas of that primary: reads go there. */
  readonly replicas: readonly { readonly name: string; readonly url: string }[]
  /** Called with every routing decision (which server a query went to, and why). */
  readonly onRoute?: (event: RouteEvent) => void
}

/** The catalog's client: writes to the primary, reads to the replicas. */
export function createCatalogClient(options: CatalogClientOptions) {
  return newCatalogPrismaClient(options.primaryUrl).$extends(
    readReplicas({
      replicas: options.replicas.map((r) => ({ client: newCatalogPrismaClient(r.url), name: r.name })),
      ...(options.onRoute ? { onRoute: options.onRoute } : {}),
    }),
  )
}

export type CatalogClient = ReturnType<typeof createCatalogClient>

/** Options of {@link createCatalogApp}. */
export interface CatalogAppOptions {
  /**
   * Whether the app reads `Author.country`, added by the second migration (`add_author_country`). `false` is the
   * app as deployed before that migration: the column is omitted from every query, so the app works on both
   * schema versions. Deploy `true` only once the migration has reached every server the app reads from, the
   * replicas included.
   * @default true
   */
  readonly country?: boolean
}

/** Postgres INTEGER maximum: a larger id cannot exist, and Prisma would reject it as an Int. */
const MAX_ID = 2_147_483_647

function parseAuthorId(raw: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(raw)) return undefined
  const id = Number(raw)
  return id <= MAX_ID ? id : undefined
}

/** Builds the catalog app. It does not listen: see {@link listen}. */
export function createCatalogApp(prisma: CatalogClient, options: CatalogAppOptions = {}): Express {
  const omit = { country: options.country === false }
  const app = express()
  // One scope per request: the unit of read-your-writes.
  app.use((_req, _res, next) => {
    runInScope(next)
  })

  app.get('/catalog/authors', async (_req, res) => {
    res.json(await prisma.author.findMany({ omit, orderBy: { id: 'asc' } }))
  })

  app.get('/catalog/books/:authorId', async (req, res) => {
    const authorId = parseAuthorId(req.params.authorId)
    if (authorId === undefined) {
      res.status(400).json({ error: `Invalid author id \`${req.params.authorId}\`: expected an integer` })
      return
    }
    // One read: the author (null when unknown) with its books.
    const author = await prisma.author.findUnique({
      where: { id: authorId },
      select: { books: { orderBy: { id: 'asc' } } },
    })
    if (!author) {
      res.status(404).json({ error: `No author with id ${String(authorId)}` })
      return
    }
    res.json(author.books)
  })

  return app
}

/** A listening HTTP server. */
export interface Listening {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Closes the server, open keep-alive connections included. */
  close(): Promise<void>
}

/** Serves `app` on 127.0.0.1 (`port` 0: a free port). */
export async function listen(app: Express, port = 0): Promise<Listening> {
  const server = createServer(app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const actual = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${String(actual)}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error)
          else resolve()
        })
        server.closeAllConnections()
      }),
  }
}
