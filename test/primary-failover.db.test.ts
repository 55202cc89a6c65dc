/**
 * Failover, first part: a replica promoted while the router still lists it among the replicas (a failover the
 * application's configuration has not followed, or a promotion by mistake). Out of recovery, it no longer receives
 * the primary's writes: the router must send it no read (it would be stale for ever), and take it back once it
 * replicates again. An entry that points at the primary itself (as in development) stays in use. The test kit
 * promotes for real (`pg_ctl promote`) and rebuilds the replica from a base backup afterwards.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { readReplicas, runInScope } from '../src/index.ts'
import { startFaultProxy } from '../src/testing/fault-proxy.ts'
import { newClient, requireCluster, timeline, topology, unique, until, untilChecked, waitForReplication } from './support/db.ts'

const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

describe('a replica that left replication without saying so (promoted)', () => {
  it('is out of rotation within a health round (cause not-a-replica, warned), no read reaches it, none is stale; rebuilt, it returns', async (ctx) => {
    const cluster = requireCluster(ctx)
    const events = timeline()
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const replicas = topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name }))
    const prisma = newClient(topology.primaryUrl).$extends(
      readReplicas({ replicas, health: { intervalMs: 100, timeoutMs: 500 }, onRoute: events.onRoute, onHealthChange: events.onHealthChange }),
    )
    clients.push(prisma)
    try {
      await prisma.user.findFirst()
      await untilChecked(prisma)
      await cluster.promoteReplica('replica-2')
      await until('replica-2 out of rotation', () => prisma.$replicaStatus().find((r) => r.name === 'replica-2')?.state === 'down')
      expect(prisma.$replicaStatus().find((r) => r.name === 'replica-2')?.cause).toBe('not-a-replica')
      expect(warnings.some((w) => (w as { code?: string }).code === 'PRISMA_REPLICA_ROUTER_NOT_A_REPLICA' && w.message.includes('replica-2'))).toBe(true)
      // The primary's writes go on; unscoped reads of them are served by replica-1 or the primary, never by the
      // promoted server (which would miss every one of them).
      const routedBefore = prisma.$routerStats().routed.replicas['replica-2'] ?? 0
      const email = `${unique('promoted')}@example.com`
      await newClient(topology.primaryUrl).user.create({ data: { email, name: 'after the promotion' } })
      await waitForReplication(['replica-1'])
      const answers = await Promise.all(Array.from({ length: 40 }, () => prisma.user.findUnique({ where: { email } })))
      expect(answers.filter((a) => a === null).length).toBe(0)
      expect(prisma.$routerStats().routed.replicas['replica-2'] ?? 0).toBe(routedBefore)
    } finally {
      process.off('warning', onWarning)
      await cluster.rebuildReplica('replica-2')
    }
    await until('replica-2 back in rotation once it replicates again', () => prisma.$replicaStatus().find((r) => r.name === 'replica-2')?.state === 'up', 30_000)
  })

  it('an entry that points at the primary itself (as in development) stays in use', async () => {
    const prisma = newClient(topology.primaryUrl).$extends(readReplicas({ replicas: [{ client: newClient(topology.primaryUrl), name: 'self' }], health: { intervalMs: 100 } }))
    clients.push(prisma)
    await prisma.user.findFirst()
    // A few rounds: the first asks the primary who it is; from then on the entry is known to be it.
    await until('three health rounds', () => prisma.$routerStats().healthChecks >= 3)
    expect(prisma.$replicaStatus()[0]?.state).toBe('up')
    const before = prisma.$routerStats().routed.replicas.self ?? 0
    await prisma.user.findMany({ take: 1 })
    expect(prisma.$routerStats().routed.replicas.self).toBe(before + 1)
  })
})

describe('a primary failover: the primary dies, a replica is promoted, the primary’s address moves to it, the other replica follows', () => {
  it('writes go on at the new primary (after the errors a plain client gets too); no stale read; a token from before the failover does not pin its scope to the primary', async (ctx) => {
    const cluster = requireCluster(ctx)
    // The primary's address: a proxy (a DNS name or a virtual IP), moved to the promoted server by the failover.
    const address = await startFaultProxy({ target: { port: Number(new URL(topology.primaryUrl).port) } })
    const primaryUrl = address.url(topology.primaryUrl)
    const events = timeline()
    const replicas = topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name }))
    const prisma = newClient(primaryUrl).$extends(
      readReplicas({ replicas, health: { intervalMs: 100, timeoutMs: 500 }, onRoute: events.onRoute, onHealthChange: events.onHealthChange }),
    )
    clients.push(prisma)
    const email = `${unique('failover')}@example.com`
    try {
      const token = await runInScope(async () => {
        await prisma.user.create({ data: { email, name: 'before the failover' } })
        return prisma.$consistencyToken()
      })
      await waitForReplication()
      // The failover.
      await cluster.stopPrimary()
      await cluster.promoteReplica('replica-1')
      address.retarget({ port: cluster.replica('replica-1').port })
      address.reset()
      await cluster.followReplica('replica-2', 'replica-1')
      // Writes: the connections to the dead primary fail (as a plain client's do); new ones reach the new primary.
      await until('a write succeeds at the new primary', async () =>
        prisma.user.update({ where: { email }, data: { name: 'after the failover' } }).then(
          () => true,
          () => false,
        ),
      )
      // Read-your-writes across the failover: every scoped read after a write sees it.
      for (let i = 0; i < 10; i++) {
        const seen = await runInScope(async () => {
          await prisma.user.update({ where: { email }, data: { name: `after-${String(i)}` } })
          return (await prisma.user.findUnique({ where: { email } }))?.name
        })
        expect(seen).toBe(`after-${String(i)}`)
      }
      // A token from before the failover: its reads see the row, and once a replica has replayed past it (the
      // follower, on the new timeline), they are served there, not pinned to the primary.
      await until(
        'a read with the old token served by a replica',
        async () => {
          const from = events.entries.length
          const row = await runInScope(() => prisma.user.findUnique({ where: { email } }), { token: token ?? '' })
          expect(row?.email).toBe(email)
          return events.entries.slice(from).some((e) => e.kind === 'route' && e.target === 'replica')
        },
        30_000,
      )
    } finally {
      await prisma.$disconnect()
      await address.close()
      // The cluster as it was: the old primary back, both replicas rebuilt from it.
      await cluster.stopReplica('replica-1').catch(() => undefined)
      await cluster.startPrimary()
      await cluster.rebuildReplica('replica-1')
      await cluster.rebuildReplica('replica-2')
    }
  })
})
