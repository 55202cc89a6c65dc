/**
 * Lag-aware routing on a real MariaDB primary + 2 GTID replicas: replay stopped for real (`STOP SLAVE
 * SQL_THREAD`) while the primary keeps writing. The same on PostgreSQL: test/health-monitor.db.test.ts.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { readReplicas, type HealthEvent, type RouteEvent } from '../src/index.ts'
import { healMariaReplicas, newMariaClient, requireMariadb } from './support/mariadb.ts'
import { until } from './support/until.ts'

afterEach(healMariaReplicas)
const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

describe('MariaDB: maxLag', () => {
  it('replay stopped on replica-1 with maxLag 500 ms: it leaves rotation while the primary writes, and comes back once resumed', async (ctx) => {
    const cluster = requireMariadb(ctx)
    const events: ({ at: number } & (({ kind: 'route' } & RouteEvent) | ({ kind: 'health' } & HealthEvent)))[] = []
    const prisma = newMariaClient(cluster.primaryUrl).$extends(
      readReplicas({
        replicas: cluster.info.replicas.map((r) => ({ client: newMariaClient(r.url), name: r.name, connection: r.url })),
        primaryConnection: cluster.primaryUrl,
        sticky: false,
        maxLag: { ms: 500 },
        health: { intervalMs: 100 },
        onRoute: (e) => events.push({ at: performance.now(), kind: 'route', ...e }),
        onHealthChange: (e) => events.push({ at: performance.now(), kind: 'health', ...e }),
      }),
    )
    const writer = newMariaClient(cluster.primaryUrl)
    clients.push(prisma, writer)
    const health = (state: HealthEvent['state'], after = 0) => events.find((e) => e.kind === 'health' && e.replica === 'replica-1' && e.state === state && e.at > after)
    await prisma.note.count() // starts the health check
    const run = { writing: true, reading: true }
    const written = (async () => {
      while (run.writing) await writer.note.create({ data: { title: 'lag' } })
    })()
    // Reads all along: the ones replica-1 serves between the pause and its exclusion are the stale ones.
    const reading = (async () => {
      while (run.reading) await prisma.note.count()
    })()
    try {
      const pausedAt = performance.now()
      await cluster.pauseReplay('replica-1')
      await until('replica-1 lagging', () => health('lagging', pausedAt) !== undefined, 10_000)
      const lagging = health('lagging', pausedAt)!
      for (let i = 0; i < 40; i++) await prisma.note.count()
      run.reading = false
      await reading
      const servedWhileLagging = events.filter((e) => e.kind === 'route' && e.at > lagging.at && e.replica === 'replica-1').length
      // A read replica-1 served after the pause saw the data of the pause's moment: its staleness is at most its
      // time minus the pause's (the writer commits every few ms).
      const lastServed = events.filter((e) => e.kind === 'route' && e.replica === 'replica-1' && e.at > pausedAt && e.at <= lagging.at).at(-1)
      console.info(
        `MariaDB: replay stopped on replica-1, maxLag 500 ms: out of rotation ${(lagging.at - pausedAt).toFixed(0)} ms after the pause (lag ${JSON.stringify(lagging.kind === 'health' ? lagging.lag : undefined)}); reads it served since: ${String(servedWhileLagging)}; worst staleness of a read it served: ${lastServed ? `<= ${(lastServed.at - pausedAt).toFixed(0)} ms` : 'none served after the pause'}`,
      )
      expect(servedWhileLagging).toBe(0)
      // The replica's own view, where permitted (root here): no value while its applier is stopped (the first
      // lagging verdict may predate the stop: on a loaded machine a slow round flags the replica by itself).
      await until('replica-1 reports no lag of its own (applier stopped)', () => prisma.$replicaStatus()[0]?.lag?.serverSeconds === null, 10_000)
      expect(prisma.$replicaStatus()[0]?.state).toBe('lagging')
      const resumedAt = performance.now()
      await cluster.resumeReplay('replica-1')
      await until('replica-1 back', () => health('up', resumedAt) !== undefined, 10_000)
      await until('replica-1 reports its own lag again', () => typeof prisma.$replicaStatus()[0]?.lag?.serverSeconds === 'number', 10_000)
    } finally {
      run.writing = false
      run.reading = false
      await Promise.all([written, reading])
    }
  })
})
