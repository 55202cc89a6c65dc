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
    const run = { writing: true }
    const written = (async () => {
      while (run.writing) await writer.note.create({ data: { title: 'lag' } })
    })()
    try {
      const pausedAt = performance.now()
      await cluster.pauseReplay('replica-1')
      await until('replica-1 lagging', () => health('lagging', pausedAt) !== undefined, 10_000)
      const lagging = health('lagging', pausedAt)!
      for (let i = 0; i < 40; i++) await prisma.note.count()
      const servedWhileLagging = events.filter((e) => e.kind === 'route' && e.at > lagging.at && e.replica === 'replica-1').length
      console.info(
        `MariaDB: replay stopped on replica-1, maxLag 500 ms: out of rotation ${(lagging.at - pausedAt).toFixed(0)} ms after the pause (lag ${JSON.stringify(lagging.kind === 'health' ? lagging.lag : undefined)}); reads it served since: ${String(servedWhileLagging)}`,
      )
      expect(servedWhileLagging).toBe(0)
      const resumedAt = performance.now()
      await cluster.resumeReplay('replica-1')
      await until('replica-1 back', () => health('up', resumedAt) !== undefined, 10_000)
    } finally {
      run.writing = false
      await written
    }
  })
})
