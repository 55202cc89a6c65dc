/**
 * The router's own connections to MariaDB (src/own-mariadb-connection.ts), on the real MariaDB cluster: its
 * health checks and GTID position queries never reach the application's PrismaClient (query log), and never
 * keep the process alive.
 */
import { spawnSync } from 'node:child_process'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { describe, expect, it } from 'vitest'
import { PrismaClient } from '../generated/mysql/client.ts'
import { readReplicas, runInScope } from '../src/index.ts'
import { requireMariadb } from './support/mariadb.ts'
import { until } from './support/until.ts'

function logged(url: string) {
  const queries: string[] = []
  const client = new PrismaClient({ adapter: new PrismaMariaDb(`${url}?connectionLimit=2`), log: [{ emit: 'event', level: 'query' }] })
  client.$on('query', (e) => queries.push(e.query))
  return { client, queries }
}

describe('MariaDB: the router’s own connections', () => {
  it('with the URLs given: no health check or GTID query in the application’s query log; without them: there, with one warning', async (ctx) => {
    const cluster = requireMariadb(ctx)
    for (const own of [true, false]) {
      const primary = logged(cluster.primaryUrl)
      const replicas = cluster.info.replicas.map((r) => ({ ...logged(r.url), name: r.name, url: r.url }))
      const prisma = primary.client.$extends(
        readReplicas({
          replicas: replicas.map((r) => ({ client: r.client, name: r.name, ...(own ? { connection: r.url } : {}) })),
          ...(own ? { primaryConnection: cluster.primaryUrl } : {}),
          health: { intervalMs: 20 },
        }),
      )
      await runInScope(async () => {
        await prisma.note.create({ data: { title: 'own' } })
        await prisma.note.count()
      })
      await until('a few health rounds', () => prisma.$routerStats().healthChecks >= 5)
      const routerQueries = [primary, ...replicas].flatMap((c) => c.queries).filter((q) => /gtid|read_only|VERSION\(\)/i.test(q))
      console.info(`MariaDB, ${own ? 'own connections' : 'through the clients'}: ${String(routerQueries.length)} router queries in the application's query log`)
      if (own) expect(routerQueries).toEqual([])
      else expect(routerQueries.length).toBeGreaterThan(0)
      await prisma.$disconnect()
    }
  })

  it('never keeps the process alive: a script that reads and does not disconnect exits on its own', (ctx) => {
    const cluster = requireMariadb(ctx)
    // The application ends its own clients' pools (which would keep it alive), not the router: the router's
    // connections and health check are still open, and must not hold the process.
    const script = `
      import { PrismaMariaDb } from '@prisma/adapter-mariadb'
      const { PrismaClient } = await import('./generated/mysql/client.ts')
      const { readReplicas, runInScope } = await import('./src/index.ts')
      const client = (url) => new PrismaClient({ adapter: new PrismaMariaDb(url + '?connectionLimit=1') })
      const base = client(process.env.P)
      const replica = client(process.env.R)
      const prisma = base.$extends(readReplicas({ replicas: [{ client: replica, connection: process.env.R }], primaryConnection: process.env.P, health: { idleAfterMs: false } }))
      await runInScope(async () => {
        await prisma.note.create({ data: { title: 'alive' } })
        await prisma.note.count()
      })
      console.log('read, health checks', prisma.$routerStats().healthChecks)
      await Promise.all([base.$disconnect(), replica.$disconnect()])
    `
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, P: cluster.primaryUrl, R: cluster.replicaUrls[0]! },
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(result.stdout).toContain('read, health checks')
    expect(result.signal).toBeNull() // not killed by the timeout
  })
})
