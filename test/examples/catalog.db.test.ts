import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { catalogMigrations, createDatabase, databaseUrl, migrateCatalog } from '../../examples/catalog/migrate.ts'
import { populate, sampleCatalog } from '../../examples/catalog/populate.ts'
import { createCatalogApp, createCatalogClient, listen, type CatalogAppOptions, type Listening } from '../../examples/catalog/server.ts'
import type { RouteEvent } from '../../src/index.ts'
import { healReplicas, replicaNames, requireCluster, topology, waitForReplication } from '../support/db.ts'
import { adapterPgVersion, atLeast } from '../support/versions.ts'

// A database of its own on the shared topology, created on the primary: the replicas get it by replication.
const database = `catalog_${String(process.pid)}_${String(Date.now())}`
const primaryUrl = databaseUrl(topology.primaryUrl, database)
const replicas = topology.replicas.map((r) => ({ name: r.name, url: databaseUrl(r.url, database) }))

const events: RouteEvent[] = []
const prisma = createCatalogClient({ primaryUrl, replicas, onRoute: (e) => events.push(e) })
const servers: Listening[] = []

async function serve(options: CatalogAppOptions = {}): Promise<Listening> {
  const server = await listen(createCatalogApp(prisma, options))
  servers.push(server)
  return server
}

/** One HTTP GET: status, parsed JSON body, and the routing events of the queries it made. */
async function get(server: Listening, path: string) {
  const before = events.length
  const res = await fetch(server.url + path)
  const body: unknown = res.headers.get('content-type')?.includes('application/json') ? await res.json() : await res.text()
  return { status: res.status, body, routed: events.slice(before) }
}

/** Whether the `Author` table of the catalog database has a `country` column, on one server. */
async function hasCountryColumn(server: string): Promise<boolean> {
  const client = server === 'primary' ? prisma.$primary() : prisma.$replica(server)
  const rows = await client.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'Author' AND column_name = 'country'`
  return rows[0]?.n === 1
}

let init = ''
let addCountry = ''

beforeAll(async () => {
  ;[init = '', addCountry = ''] = await catalogMigrations()
  await createDatabase(topology.primaryUrl, database)
  await waitForReplication()
})

afterEach(healReplicas)

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
  await prisma.$disconnect()
  const admin = new pg.Client({ connectionString: topology.primaryUrl })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
})

describe('examples/catalog: migrations on the primary only, API served by replicas', () => {
  it('has the two committed migrations, and refuses to migrate a replica', async () => {
    expect(init).toMatch(/^\d{14}_init$/)
    expect(addCountry).toMatch(/^\d{14}_add_author_country$/)
    const replica = replicas[0]!
    await expect(migrateCatalog(replica.url, { upTo: init })).rejects.toMatchObject({ name: 'NotPrimaryError' })
  })

  it('init migration on the primary, populate, then authors and books from the replicas', async () => {
    const output = await migrateCatalog(primaryUrl, { upTo: init })
    expect(output).toContain(init)
    expect(output).not.toContain(addCountry)
    expect(output).not.toContain(primaryUrl)

    const before = events.length
    expect(await populate(prisma)).toEqual({ seeded: true, authors: 3, books: 7 })
    expect(events.slice(before).every((e) => e.target === 'primary' && e.reason === 'transaction')).toBe(true)
    // A second run inserts nothing.
    expect(await populate(prisma)).toEqual({ seeded: false, authors: 0, books: 0 })
    await waitForReplication()

    // v1 of the app: the schema has no `country` yet.
    const v1 = await serve({ country: false })
    const authors = await get(v1, '/catalog/authors')
    expect(authors.status).toBe(200)
    expect(authors.body).toEqual(sampleCatalog.map(({ name, bio }) => ({ id: expect.any(Number) as unknown, name, bio })))
    expect(authors.routed).toEqual([expect.objectContaining({ model: 'Author', operation: 'findMany', target: 'replica', reason: 'read' })])

    const [tolkien, martin] = authors.body as { id: number; name: string }[]
    const books = await get(v1, `/catalog/books/${String(tolkien!.id)}`)
    expect(books.status).toBe(200)
    expect(books.body).toEqual(sampleCatalog[0].books.map((title) => ({ id: expect.any(Number) as unknown, title, authorId: tolkien!.id })))
    expect(books.routed).toEqual([expect.objectContaining({ model: 'Author', operation: 'findUnique', target: 'replica' })])
    expect((await get(v1, `/catalog/books/${String(martin!.id)}`)).body).toEqual([
      expect.objectContaining({ title: 'A Game of Thrones' }),
      expect.objectContaining({ title: 'A Clash of Kings' }),
    ])

    const unknown = await get(v1, '/catalog/books/999999')
    expect(unknown).toMatchObject({ status: 404, body: { error: 'No author with id 999999' } })
    expect(unknown.routed).toEqual([expect.objectContaining({ target: 'replica' })])
    for (const bad of ['abc', '1.5', '-1', '0x10', '99999999999']) {
      const res = await get(v1, `/catalog/books/${bad}`)
      expect(res.status, bad).toBe(400)
      expect(res.body, bad).toEqual({ error: `Invalid author id \`${bad}\`: expected an integer` })
      expect(res.routed, bad).toEqual([])
    }
  })

  it('add_author_country reaches the replicas by replication only; v2 reads country from a replica once replayed', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    for (const name of replicaNames) await cluster.pauseReplay(name)

    const output = await migrateCatalog(primaryUrl)
    expect(output).toContain(addCountry)
    expect(output).not.toContain(init)

    // (a) The primary has the column; the paused replicas have not replayed the DDL: no column there, and a
    // read of `country` from a replica fails with Prisma's "column does not exist".
    expect(await hasCountryColumn('primary')).toBe(true)
    expect(await prisma.$primary().author.findMany({ select: { country: true } })).toEqual([{ country: null }, { country: null }, { country: null }])
    for (const name of replicaNames) {
      expect(await hasCountryColumn(name), name).toBe(false)
      // P2022 "column does not exist", from the replica's SQLSTATE 42703 (undefined_column). Before 7.6.0,
      // @prisma/adapter-pg names no column (it looked for a quoted name in `column Author.country does not exist`).
      await expect(prisma.$replica(name).author.findMany({ select: { country: true } }), name).rejects.toMatchObject({
        code: 'P2022',
        meta: { driverAdapterError: { cause: { originalCode: '42703', column: atLeast(adapterPgVersion, '7.6.0') ? 'Author.country' : undefined } } },
      })
    }
    // Over HTTP: v1 (country omitted) still works on the replicas; v2 deployed too early fails there.
    const v1 = await serve({ country: false })
    expect(await get(v1, '/catalog/authors')).toMatchObject({ status: 200, routed: [{ target: 'replica' }] })
    const early = await serve()
    expect(await get(early, '/catalog/authors')).toMatchObject({ status: 500, routed: [{ target: 'replica' }] })

    // (b) Once the replicas have replayed the migration, v2 serves `country` from a replica.
    for (const name of replicaNames) await cluster.resumeReplay(name)
    await cluster.waitForReplication()
    for (const name of replicaNames) expect(await hasCountryColumn(name), name).toBe(true)
    const v2 = await serve()
    for (const request of ['first request', 'second request']) {
      const authors = await get(v2, '/catalog/authors')
      expect(authors.status, request).toBe(200)
      expect(authors.routed, request).toEqual([{ model: 'Author', operation: 'findMany', target: 'replica', replica: expect.any(String) as unknown, reason: 'read' }])
      expect(authors.body, request).toEqual(sampleCatalog.map(({ name, bio }) => ({ id: expect.any(Number) as unknown, name, bio, country: null })))
    }
  })
})
