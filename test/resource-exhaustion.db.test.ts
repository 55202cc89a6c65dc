/**
 * Servers out of connection slots (`max_connections` reached: every new connection refused with 53300, the
 * connections already open working on): a replica that refuses new connections is out of rotation and no read
 * fails for it, without the router retrying it in a loop; a primary that refuses the router's own connection
 * (for the WAL position read-your-writes needs) never costs a stale read. Each fault is real: the test kit fills
 * every slot of the server with idle connections of its own (`cluster.exhaustConnections`).
 */
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { runInScope } from '../src/index.ts'
import { healReplicas, newClient, requireCluster, routedClient, timeline, topology, unique, until, untilChecked, waitForReplication } from './support/db.ts'
import { readReplicas } from '../src/index.ts'

const releases: (() => Promise<void>)[] = []
const clients: { $disconnect(): Promise<void> }[] = []

afterEach(async () => {
  await Promise.all(releases.splice(0).map((r) => r()))
  await healReplicas()
})
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

describe('a server out of connection slots', () => {
  it('a replica refusing new connections (53300): out of rotation, 0 failed reads, no retry loop; back once slots free up', async (ctx) => {
    const cluster = requireCluster(ctx)
    const events = timeline()
    const replicas = topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name }))
    const prisma = newClient(topology.primaryUrl).$extends(
      readReplicas({ replicas, health: { intervalMs: 100, timeoutMs: 500 }, onRoute: events.onRoute, onHealthChange: events.onHealthChange }),
    )
    clients.push(prisma)
    // Before the application's first connection to replica-1: every one it tries is refused.
    const { opened, release } = await cluster.exhaustConnections('replica-1')
    releases.push(release)
    expect(opened).toBeGreaterThan(150)
    const outcomes = await Promise.allSettled(Array.from({ length: 60 }, () => prisma.user.findMany({ take: 1 })))
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason))).toEqual([])
    await until('replica-1 out of rotation', () => prisma.$replicaStatus().find((r) => r.name === 'replica-1')?.state === 'down')
    const status = prisma.$replicaStatus().find((r) => r.name === 'replica-1')
    expect(status?.cause).toMatch(/53300|TooManyConnections/)
    // No retry loop: while it is down, reads are not sent there, whatever their number.
    const sentBefore = events.entries.filter((e) => e.kind === 'route' && e.replica === 'replica-1').length
    const more = await Promise.allSettled(Array.from({ length: 60 }, () => prisma.user.findMany({ take: 1 })))
    expect(more.filter((o) => o.status === 'rejected')).toEqual([])
    expect(prisma.$replicaStatus().find((r) => r.name === 'replica-1')?.state).toBe('down')
    expect(events.entries.filter((e) => e.kind === 'route' && e.replica === 'replica-1').length).toBe(sentBefore)
    await release()
    await until('replica-1 back in rotation once it has slots again', () => prisma.$replicaStatus().find((r) => r.name === 'replica-1')?.state === 'up', 15_000)
  })

  it('a primary refusing the router’s own connection: a read after a write still sees it (replicas 600 ms behind)', async (ctx) => {
    const cluster = requireCluster(ctx)
    const { prisma } = routedClient({ health: { intervalMs: 100, timeoutMs: 500 } })
    clients.push(prisma)
    await prisma.user.findFirst()
    await untilChecked(prisma)
    // The application's own connection to the primary is open (a write went through it); then every slot is taken.
    const email = `${unique('exhaust')}@example.com`
    await prisma.user.create({ data: { email, name: 'before' } })
    await waitForReplication()
    for (const name of topology.replicas.map((r) => r.name)) await cluster.setReplicaLag(name, 600)
    // An admin connection of the test's, open before every slot is taken.
    const admin = new pg.Client({ connectionString: topology.primaryUrl })
    await admin.connect()
    releases.push(() => admin.end())
    const { release } = await cluster.exhaustConnections('primary')
    releases.push(release)
    // The router's own connection to the primary, if open, ended (it frees a slot, taken again at once): it
    // cannot open another one.
    const routerConnections = async () =>
      (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE '%prisma-replica-router%'")).rows[0]?.n
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE '%prisma-replica-router%'")
    await until('the router has no connection to the primary', async () => (await routerConnections()) === 0)
    const again = await cluster.exhaustConnections('primary')
    releases.push(again.release)
    const seen: (string | null | undefined)[] = []
    for (let i = 0; i < 5; i++) {
      await runInScope(async () => {
        await prisma.user.update({ where: { email }, data: { name: `after-${String(i)}` } })
        seen.push((await prisma.user.findUnique({ where: { email } }))?.name)
      })
    }
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `after-${String(i)}`))
    // All the while the router had no connection of its own to the primary (every slot was taken).
    expect(await routerConnections()).toBe(0)
  })
})
