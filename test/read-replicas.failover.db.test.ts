import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { isNoReplicaAvailableError } from '../src/index.ts'
import { healReplicas, newClient, requireCluster, timedClient, topology, unique, until, waitForReplication } from './support/db.ts'
import { readLoad } from './support/read-load.ts'

afterEach(healReplicas)

const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

/** A routed client without read-your-writes (unless asked), disconnected after the file. */
function routed(options: Parameters<typeof timedClient>[0] = {}) {
  const routedClient = timedClient({ sticky: false, ...options })
  clients.push(routedClient.prisma)
  return routedClient
}

describe('a replica that dies', () => {
  it('killed under 8 concurrent readers for 5 s: 0 failed reads, never used after detection, back within 2 health intervals', async (ctx) => {
    const cluster = requireCluster(ctx)
    const intervalMs = 1000 // the default
    const { prisma, events } = routed({ health: { intervalMs } })
    const load = readLoad(() => prisma.note.findFirst({ where: { id: { gt: 0 } } }), 8)
    const started = performance.now()
    await until('200 reads before the kill', () => load.stats.ok >= 200)
    const killedAt = performance.now()
    await cluster.stopReplica('replica-1')
    await until('replica-1 detected down', () => events.health('replica-1', 'down') !== undefined)
    const down = events.health('replica-1', 'down')!
    await until('5 s of load', () => performance.now() - started >= 5000, 10_000)
    await load.stop()

    const after = events.entries.filter((e) => e.at > down.at && e.kind === 'route')
    const servedBy = (name?: string) => after.filter((e) => e.kind === 'route' && e.replica === name).length
    console.info(
      `kill replica-1 under 8 readers, 5 s: ${String(load.stats.ok)} reads ok, ${String(load.stats.failed)} failed; ` +
        `excluded ${(down.at - killedAt).toFixed(1)} ms after the kill (cause ${down.kind === 'health' ? down.cause : ''}); ` +
        `after exclusion: replica-1 ${String(servedBy('replica-1'))}, replica-2 ${String(servedBy('replica-2'))}, primary ${String(servedBy(undefined))}`,
    )
    expect(load.stats.errors).toEqual([])
    expect(servedBy('replica-1')).toBe(0)
    expect(servedBy('replica-2')).toBeGreaterThan(0)
    expect(after.length).toBe(servedBy('replica-2') + servedBy(undefined))

    // Back in rotation within 2 health intervals of the restart, and serving reads again.
    // The health check may see it accept connections before startReplica() has returned: count from the call.
    const restarting = performance.now()
    await cluster.startReplica('replica-1')
    const restartedAt = performance.now()
    const roundsAtRestart = prisma.$routerStats().healthChecks
    const upAgain = () => events.entries.find((e) => e.kind === 'health' && e.replica === 'replica-1' && e.state === 'up' && e.at > restarting)
    await until('replica-1 up again', () => upAgain() !== undefined, 10_000)
    const up = upAgain()!
    const round = up.kind === 'health' ? up.round : undefined
    console.info(
      `replica-1 re-admitted ${(up.at - restartedAt).toFixed(0)} ms after its restart, in health round ${String(round)} (${String(roundsAtRestart)} had started by then; interval ${String(intervalMs)} ms)`,
    )
    // Within 2 intervals, counted in rounds (a loaded machine stretches milliseconds, not rounds).
    expect(round).toBeLessThanOrEqual(roundsAtRestart + 2)
    const before = prisma.$replicaStatus().find((r) => r.name === 'replica-1')!.reads
    for (let i = 0; i < 10; i++) await prisma.note.count()
    expect(prisma.$replicaStatus().find((r) => r.name === 'replica-1')!.reads - before).toBe(5)
    const [row] = await cluster.query<{ calls: string }>(
      'replica-1',
      `SELECT coalesce(sum(calls), 0)::text AS calls FROM pg_stat_statements WHERE query LIKE '%FROM "public"."Note"%'`,
    )
    expect(Number(row?.calls)).toBeGreaterThanOrEqual(5)
  })

  it('both replicas killed: reads keep succeeding on the primary with fallback primary, throw NoReplicaAvailableError with fallback error', async (ctx) => {
    const cluster = requireCluster(ctx)
    const title = unique('fallback')
    await newClient(topology.primaryUrl).note.create({ data: { title } })
    await waitForReplication()
    const toPrimary = routed()
    const strict = routed({ fallback: 'error' })
    const untimed = routed({ readTimeoutMs: false }) // the attempt path without a read timeout
    await toPrimary.prisma.note.count() // warm: pools hold connections that the kill will break
    await strict.prisma.note.count()
    await untimed.prisma.note.count()
    await cluster.stopReplica('replica-1')
    await cluster.stopReplica('replica-2')

    const before = toPrimary.prisma.$routerStats()
    for (let i = 0; i < 20; i++) expect((await toPrimary.prisma.note.findFirst({ where: { title } }))?.title).toBe(title)
    const after = toPrimary.prisma.$routerStats()
    // Each read counts once: retried (a replica failed under it) or fallen back (none was usable).
    expect(after.retries - before.retries + after.fallbacks - before.fallbacks).toBe(20)
    const routes = toPrimary.events.entries.filter((e) => e.kind === 'route').slice(-20)
    expect(routes.every((e) => e.target === 'primary' && ['retry', 'fallback'].includes(e.reason))).toBe(true)
    expect(routes.at(-1)).toMatchObject({ target: 'primary', reason: 'fallback' })
    // Each read is answered by the primary: the last route of each (a read that tried a replica its router did
    // not yet know dead has a route there first, then its retry on the primary).
    for (let i = 0; i < 5; i++) {
      const from = untimed.events.entries.length
      expect((await untimed.prisma.note.findFirst({ where: { title } }))?.title).toBe(title)
      expect(
        untimed.events.entries
          .slice(from)
          .filter((e) => e.kind === 'route')
          .at(-1),
      ).toMatchObject({ target: 'primary' })
    }

    for (let i = 0; i < 3; i++) {
      const error = await strict.prisma.note.findFirst({ where: { title } }).catch((e: unknown) => e)
      expect(isNoReplicaAvailableError(error)).toBe(true)
      expect((error as Error).message).toBe("No replica available for `Note.findFirst`: replica-1 down, replica-2 down (fallback: 'error')")
    }
    const strictStats = strict.prisma.$routerStats()
    // Refused reads count too: as fallbacks, or as retries when a replica failed under them first.
    expect(strictStats.fallbacks).toBeGreaterThanOrEqual(2)
    expect(strictStats.retries + strictStats.fallbacks).toBe(3)
  })
})

describe('a replica that hangs', () => {
  it('a frozen server (SIGSTOP) costs at most one read timeout per in-flight read, then is out of rotation', async (ctx) => {
    const cluster = requireCluster(ctx)
    const readTimeoutMs = 500
    const { prisma, events } = routed({ readTimeoutMs, health: { intervalMs: 200, timeoutMs: 200 } })
    const workers = 4
    const load = readLoad(() => prisma.note.count(), workers)
    try {
      await until('100 reads before the freeze', () => load.stats.ok >= 100)
      await cluster.freezeReplica('replica-1')
      await until('replica-1 detected down', () => events.health('replica-1', 'down') !== undefined)
      const down = events.health('replica-1', 'down')!
      const okAtDetection = load.stats.ok
      await until('200 more reads after detection', () => load.stats.ok >= okAtDetection + 200)
      await load.stop()
      const retries = events.entries.filter((e) => e.kind === 'route' && e.reason === 'retry').length
      const sentAfter = events.entries.filter((e) => e.at > down.at && e.kind === 'route' && e.replica === 'replica-1').length
      console.info(
        `frozen replica-1: ${String(load.stats.failed)} failed reads, ${String(retries)} retried, detected by ${down.kind === 'health' ? down.cause : ''}, ` +
          `slowest read ${load.stats.maxMs.toFixed(0)} ms (read timeout ${String(readTimeoutMs)} ms)`,
      )
      expect(load.stats.errors).toEqual([])
      expect(sentAfter).toBe(0)
      // Only reads already on their way to the frozen server paid a timeout: at most one per worker.
      expect(retries).toBeLessThanOrEqual(workers)
    } finally {
      await load.stop()
      await cluster.thawReplica('replica-1')
    }
    await until('replica-1 back after thaw', () => events.entries.some((e) => e.kind === 'health' && e.replica === 'replica-1' && e.state === 'up'))
  })
})

describe('errors of the query itself', () => {
  it('are never retried and reach the caller unchanged; the replica stays in rotation', async () => {
    const { prisma, events } = routed()
    const routes = () => events.entries.filter((e) => e.kind === 'route')
    const before = routes().length
    const notFound = await prisma.note.findUniqueOrThrow({ where: { id: -1 } }).catch((e: unknown) => e)
    expect((notFound as { code?: string }).code).toBe('P2025')
    const invalid = await prisma.note.findMany({ where: { id: 'not-a-number' as unknown as number } }).catch((e: unknown) => e)
    expect((invalid as Error).name).toBe('PrismaClientValidationError')
    expect(
      routes()
        .slice(before)
        .map((e) => e.reason),
    ).toEqual(['read', 'read'])
    expect(prisma.$replicaStatus().map((r) => [r.state, r.failures])).toEqual([
      ['up', 0],
      ['up', 0],
    ])
  })
})
