/**
 * Replica outages on a real MariaDB primary + 2 GTID replicas, injected for real (SIGKILL): no read fails. The
 * same on PostgreSQL: test/read-replicas.failover.db.test.ts.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { type HealthEvent, type RouteEvent } from '../src/index.ts'
import { healMariaReplicas, newMariaClient, requireMariadb } from './support/mariadb.ts'
import { readReplicas } from '../src/index.ts'
import { readLoad } from './support/read-load.ts'
import { until } from './support/until.ts'
import type { MariadbCluster } from '../src/testing/mariadb-cluster.ts'

afterEach(healMariaReplicas)

const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

/** A routed client over the MariaDB cluster, its routing and health events timed in one list. */
function routed(cluster: MariadbCluster, intervalMs = 1000) {
  const entries: (({ at: number; kind: 'route' } & RouteEvent) | ({ at: number; kind: 'health' } & HealthEvent))[] = []
  const prisma = newMariaClient(cluster.primaryUrl).$extends(
    readReplicas({
      replicas: cluster.info.replicas.map((r) => ({ client: newMariaClient(r.url), name: r.name, connection: r.url })),
      primaryConnection: cluster.primaryUrl,
      sticky: false,
      health: { intervalMs },
      onRoute: (e) => entries.push({ at: performance.now(), kind: 'route', ...e }),
      onHealthChange: (e) => entries.push({ at: performance.now(), kind: 'health', ...e }),
    }),
  )
  clients.push(prisma)
  const health = (replica: string, state: HealthEvent['state'], after = 0) => entries.find((e) => e.kind === 'health' && e.replica === replica && e.state === state && e.at > after)
  return { prisma, entries, health }
}

describe('MariaDB: a replica that dies', () => {
  it('killed under 8 concurrent readers: 0 failed reads, never used after detection, back after its restart', async (ctx) => {
    const cluster = requireMariadb(ctx)
    const intervalMs = 1000
    const { prisma, entries, health } = routed(cluster, intervalMs)
    const load = readLoad(() => prisma.note.findFirst({ where: { id: { gt: 0 } } }), 8)
    await until('200 reads before the kill', () => load.stats.ok >= 200)
    const killedAt = performance.now()
    await cluster.stopReplica('replica-1')
    await until('replica-1 detected down', () => health('replica-1', 'down') !== undefined)
    const down = health('replica-1', 'down')!
    const okAtDown = load.stats.ok
    await until('500 more reads', () => load.stats.ok >= okAtDown + 500, 20_000)
    await load.stop()
    console.info(`MariaDB: slowest read under the kill ${load.stats.maxMs.toFixed(0)} ms`)
    const after = entries.filter((e) => e.kind === 'route' && e.at > down.at)
    const servedBy = (name?: string) => after.filter((e) => e.kind === 'route' && e.replica === name).length
    console.info(
      `MariaDB: kill replica-1 under 8 readers: ${String(load.stats.ok)} reads ok, ${String(load.stats.failed)} failed; excluded ${(down.at - killedAt).toFixed(1)} ms after the kill (cause ${down.kind === 'health' ? down.cause : ''}); after: replica-1 ${String(servedBy('replica-1'))}, replica-2 ${String(servedBy('replica-2'))}, primary ${String(servedBy(undefined))}`,
    )
    expect(load.stats.errors).toEqual([])
    expect(servedBy('replica-1')).toBe(0)
    expect(servedBy('replica-2')).toBeGreaterThan(0)

    // The health check may see it accept connections before startReplica() has returned: count from the call.
    const restarting = performance.now()
    await cluster.startReplica('replica-1')
    const restartedAt = performance.now()
    await until('replica-1 up again', () => health('replica-1', 'up', restarting) !== undefined, 15_000)
    console.info(
      `MariaDB: replica-1 re-admitted ${(health('replica-1', 'up', restarting)!.at - restartedAt).toFixed(0)} ms after its restart returned (health interval ${String(intervalMs)} ms)`,
    )
  })

  it.for([
    ['the default health check (every 1 s)', 1000],
    ['no health check between the kill and the reads', 60_000],
  ] as const)('stopped while the application is idle, with %s: the next reads do not fail (its pooled connections are dead)', async ([label, intervalMs], ctx) => {
    const cluster = requireMariadb(ctx)
    const { prisma, health } = routed(cluster, intervalMs)
    for (let i = 0; i < 20; i++) await prisma.note.count() // both replicas' pools hold open connections
    await cluster.stopReplica('replica-2')
    const failures: unknown[] = []
    let slowest = 0
    for (let i = 0; i < 40; i++) {
      const started = performance.now()
      await prisma.note.count().catch((error: unknown) => failures.push(error))
      slowest = Math.max(slowest, performance.now() - started)
    }
    // Without a check, the first read on the dead replica waits for its pool's acquireTimeout (10 s by default)
    // or readTimeoutMs, then is retried elsewhere; with one, the check's refused connection ends it sooner.
    console.info(`MariaDB: replica-2 stopped while idle (${label}), then 40 reads: ${String(failures.length)} failed, slowest ${slowest.toFixed(0)} ms`)
    expect(failures).toEqual([])
    expect(health('replica-2', 'down')).toBeDefined()
  })
})
