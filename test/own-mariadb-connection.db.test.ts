/**
 * The router's own connections to MariaDB (src/own-mariadb-connection.ts), on the real MariaDB cluster: its
 * health checks and GTID position queries never reach the application's PrismaClient (query log), and never
 * keep the process alive.
 */
import { spawnSync } from 'node:child_process'
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { describe, expect, it } from 'vitest'
import { PrismaClient } from '../generated/mysql/client.ts'
import { readReplicas, runInScope } from '../src/index.ts'
import { OwnMariadbConnection } from '../src/own-mariadb-connection.ts'
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

/**
 * A loopback proxy to `port` that can hold what the server sends (a connection whose answers stop arriving, as
 * on a partition) and counts the connections it accepted.
 */
async function holdingProxy(port: number): Promise<{ port: number; accepted: () => number; hold: () => void; close: () => void }> {
  const upstreams: Socket[] = []
  const server = createServer((client) => {
    const upstream = netConnect(port, '127.0.0.1')
    upstreams.push(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  server.unref()
  const address = server.address() as AddressInfo
  return {
    port: address.port,
    accepted: () => upstreams.length,
    hold: () => {
      for (const upstream of upstreams) upstream.unpipe()
    },
    close: () => {
      for (const upstream of upstreams) upstream.destroy()
      server.close()
    },
  }
}

describe('MariaDB: resetting a stuck connection', () => {
  it('ends it without the driver’s KILL from a new connection (which, for a thread already gone, was an unhandled rejection)', async (ctx) => {
    const cluster = requireMariadb(ctx)
    const proxy = await holdingProxy(Number(new URL(cluster.primaryUrl).port))
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    const url = new URL(cluster.primaryUrl)
    url.port = String(proxy.port)
    const link = new OwnMariadbConnection(url.toString(), 60_000)
    try {
      const [row] = await link.query('SELECT CONNECTION_ID() AS id', false)
      const thread = Number(row?.id)
      expect(proxy.accepted()).toBe(1)
      // The server's answers stop arriving; the server ends that session meanwhile (as a restart would).
      proxy.hold()
      const stuck = link.query('SELECT 1', false)
      const settled = stuck.then(
        () => 'answered',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      )
      await cluster.query('primary', `KILL ${String(thread)}`)
      link.reset()
      expect(await settled).not.toBe('answered')
      // The next query opens one new connection: the only other one the proxy saw (no KILL connection).
      await link.query('SELECT 1', false)
      expect(proxy.accepted()).toBe(2)
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
      await link.close()
      proxy.close()
    }
  })
})
