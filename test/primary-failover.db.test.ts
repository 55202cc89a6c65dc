/**
 * Failover, first part: a replica promoted while the router still lists it among the replicas (a failover the
 * application's configuration has not followed, or a promotion by mistake). Out of recovery, it no longer receives
 * the primary's writes: the router must send it no read (it would be stale for ever), and take it back once it
 * replicates again. An entry that points at the primary itself (as in development) stays in use. The test kit
 * promotes for real (`pg_ctl promote`) and rebuilds the replica from a base backup afterwards.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { readReplicas } from '../src/index.ts'
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
