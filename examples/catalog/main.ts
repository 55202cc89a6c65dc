/**
 * `npm run example:catalog`: the catalog app (authors and books) on a local PostgreSQL primary + 2 streaming
 * replicas (no Docker). Migrates the primary only, in two steps (the second adds `Author.country`), seeds it,
 * serves the HTTP API from the replicas, prints what each request returned and which server answered, then
 * stops everything.
 *
 * Needs the catalog client: `prisma generate --config examples/catalog/prisma.config.ts` (the npm script does it).
 */
import { NotPrimaryError } from 'prisma-replica-router'
import type { RouteEvent } from 'prisma-replica-router'
import { startLocalCluster } from 'prisma-replica-router/testing'
import { catalogMigrations, migrateCatalog } from './migrate.ts'
import { populate } from './populate.ts'
import { createCatalogApp, createCatalogClient, listen, type CatalogAppOptions, type CatalogClient } from './server.ts'

const started = performance.now()
const ms = () => `${(performance.now() - started).toFixed(0).padStart(5)} ms`
const log = (line: string) => {
  console.log(`${ms()}  ${line}`)
}
/** What `prisma migrate deploy` did, from its output: the migrations it applied. */
const applied = (output: string) => {
  const names = [...output.matchAll(/└─ (\d{14}_\w+)\//g)].map((m) => m[1])
  return names.length > 0 ? `applied ${names.join(', ')}` : 'nothing to apply'
}

// The cluster creates database `catalog` on the primary before the replicas are cloned from it.
const cluster = await startLocalCluster({ replicas: 2, database: 'catalog' })
log(`cluster up: primary :${String(cluster.info.primary.port)}, ${cluster.info.replicas.map((r) => `${r.name} :${String(r.port)}`).join(', ')} (database \`catalog\`)`)

const events: RouteEvent[] = []
let prisma: CatalogClient | undefined
try {
  const [init, addCountry] = await catalogMigrations()
  if (!init || !addCountry) throw new Error('expected the two committed migrations of examples/catalog/prisma/migrations')

  // Migrations never reach a replica: assertPrimary() refuses a hot standby before the CLI runs.
  const refused = await migrateCatalog(cluster.replicaUrls[0]!).catch((e: unknown) => e)
  log(`migrate against replica-1's URL: ${refused instanceof NotPrimaryError ? `refused (${refused.name})` : 'NOT REFUSED'}`)

  log(`migrate deploy on the primary, up to ${init}: ${applied(await migrateCatalog(cluster.primaryUrl, { upTo: init }))}`)

  prisma = createCatalogClient({
    primaryUrl: cluster.primaryUrl,
    replicas: cluster.info.replicas.map((r) => ({ name: r.name, url: r.url })),
    onRoute: (e) => events.push(e),
  })
  const seeded = await populate(prisma)
  log(`populate: ${String(seeded.authors)} authors, ${String(seeded.books)} books (${events.map((e) => `${String(e.model)}.${e.operation} -> ${e.target}`).join(', ')})`)
  await cluster.waitForReplication()
  log('replicas replayed the schema and the seed')

  /** Starts an app version, makes the requests, prints each answer and which server(s) it came from. */
  const serve = async (version: string, options: CatalogAppOptions, paths: readonly string[]) => {
    const server = await listen(createCatalogApp(prisma!, options))
    log(`app ${version} listening on ${server.url}`)
    try {
      for (const path of paths) {
        const before = events.length
        const res = await fetch(server.url + path)
        const body = JSON.stringify(await res.json())
        const servedBy = events
          .slice(before)
          .map((e) => `${e.replica ?? e.target} (${e.reason})`)
          .join(', ')
        log(`GET ${path} -> ${String(res.status)}, served by ${servedBy || 'no query'}`)
        console.log(`         ${body.length > 160 ? `${body.slice(0, 157)}...` : body}`)
      }
    } finally {
      await server.close()
    }
  }

  console.log('\n-- v1 of the app: the schema has no Author.country yet')
  await serve('v1 (country omitted)', { country: false }, ['/catalog/authors', '/catalog/books/1', '/catalog/books/2', '/catalog/books/999', '/catalog/books/abc'])

  console.log(`\n-- ${addCountry}: on the primary only; replicas get the column by replication`)
  log(`migrate deploy on the primary: ${applied(await migrateCatalog(cluster.primaryUrl))}`)
  await cluster.waitForReplication()
  log('replicas replayed the migration; deploying v2')

  console.log('\n-- v2 of the app: reads Author.country (null for the seeded authors)')
  await serve('v2 (with country)', {}, ['/catalog/authors', '/catalog/authors', '/catalog/books/3'])
} finally {
  await prisma?.$disconnect()
  await cluster.stop()
  console.log(`\n${ms()}  cluster stopped`)
}
