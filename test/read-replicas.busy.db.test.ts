/**
 * Busy is not down: the router's health checks run on its own connections, never queued behind the
 * application's reads in the application's pool, and a read that is merely slow is not retried on every server.
 */
import { PrismaPg } from '@prisma/adapter-pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PrismaClient } from '../generated/prisma/client.ts'
import { readReplicas, type ReadReplicasOptions } from '../src/index.ts'
import { healReplicas, newClient, requireCluster, timeline, topology, unique, until, untilChecked, waitForReplication } from './support/db.ts'
import { readLoad } from './support/read-load.ts'
import { ServerActivity } from './support/server-activity.ts'

afterEach(healReplicas)

const activity = new ServerActivity()
const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
  await activity.close()
})

/** A routed client whose replica clients have a pool of `max` connections (undefined: the default, 10). */
function routed(max: number | undefined, options: Omit<ReadReplicasOptions, 'replicas' | 'onRoute' | 'onHealthChange'> = {}) {
  const events = timeline()
  const replica = (url: string) => new PrismaClient({ adapter: new PrismaPg(max === undefined ? { connectionString: url } : { connectionString: url, max }) })
  const prisma = newClient(topology.primaryUrl).$extends(
    readReplicas({
      ...options,
      replicas: topology.replicas.map((r) => ({ client: replica(r.url), name: r.name })),
      onRoute: events.onRoute,
      onHealthChange: events.onHealthChange,
    }),
  )
  clients.push(prisma)
  events.countRounds(prisma)
  return { prisma, events }
}

const prefix = unique('busy')
/** A read of a few hundred rows: a few ms each, so that bursts keep the pool saturated. */
const heavyRead = (prisma: ReturnType<typeof routed>['prisma']) => prisma.note.findMany({ where: { title: { startsWith: prefix } } })

beforeAll(async () => {
  const writer = newClient(topology.primaryUrl)
  await writer.note.createMany({ data: Array.from({ length: 300 }, (_, i) => ({ title: `${prefix}-${String(i)}`, content: 'x'.repeat(200) })) })
  await writer.$disconnect()
  await waitForReplication()
})

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0
}

describe('a saturated pool is not a down replica (health checks every 100 ms, 250 ms timeout)', () => {
  it.for([
    { max: 2, concurrent: 100 },
    { max: undefined, concurrent: 300 },
  ])('pool $max, $concurrent concurrent reads for 3 s: 0 reads moved to the primary, no replica marked down', async ({ max, concurrent }) => {
    const { prisma, events } = routed(max, { health: { intervalMs: 100, timeoutMs: 250 } })
    await prisma.$connect()
    await untilChecked(prisma, 'the first health check')
    const load = readLoad(() => heavyRead(prisma), concurrent)
    const started = performance.now()
    await until('3 s of load', () => performance.now() - started >= 3000, 10_000)
    await load.stop()
    const reads = events.entries.filter((e) => e.kind === 'route' && e.at >= started)
    const toPrimary = reads.filter((e) => e.kind === 'route' && e.target === 'primary').length
    const down = events.entries.filter((e) => e.kind === 'health' && e.state !== 'up')
    console.info(
      `pool ${String(max ?? 10)}, ${String(concurrent)} concurrent reads, 3 s: ${String(load.stats.ok)} reads, ${String(toPrimary)} moved to the primary, ` +
        `${String(down.length)} replicas down, p50 ${percentile(load.stats.durations, 50).toFixed(0)} ms, p99 ${percentile(load.stats.durations, 99).toFixed(0)} ms, ` +
        `router stats ${JSON.stringify(prisma.$routerStats())}`,
    )
    expect(load.stats.errors).toEqual([])
    expect(load.stats.ok).toBeGreaterThan(concurrent)
    expect(down).toEqual([])
    expect(toPrimary).toBe(0)
    // The checks went on meanwhile: each replica's position is fresh (its server answered within the load).
    expect(prisma.$replicaStatus().map((r) => r.state)).toEqual(['up', 'up'])
  })

  it('a replica stopped under the same load (pool 2, 100 concurrent reads) is still excluded within one health interval (the next round)', async (ctx) => {
    const cluster = requireCluster(ctx)
    const intervalMs = 100
    const { prisma, events } = routed(2, { health: { intervalMs, timeoutMs: 250 } })
    await prisma.$connect()
    const load = readLoad(() => heavyRead(prisma), 100)
    try {
      await until('some reads on replica-1', () => events.entries.some((e) => e.kind === 'route' && e.replica === 'replica-1'))
      const stopping = performance.now()
      await cluster.stopReplica('replica-1')
      const stopped = performance.now()
      const roundsAtStop = prisma.$routerStats().healthChecks
      await until('replica-1 down', () => events.health('replica-1', 'down') !== undefined)
      const down = events.health('replica-1', 'down')!
      const round = down.kind === 'health' ? down.round : undefined
      console.info(
        `replica-1 stopped under load (pg_ctl took ${(stopped - stopping).toFixed(0)} ms): down ${(down.at - stopped).toFixed(0)} ms after ` +
          `pg_ctl returned, in health round ${String(round)} (${String(roundsAtStop)} had started by then; cause ${down.kind === 'health' ? down.cause : ''}); ` +
          `health interval ${String(intervalMs)} ms`,
      )
      // Within one interval, counted in rounds: the round that starts after the stop excludes it (or an earlier one,
      // or a failed read), whatever the 100 reads queued on the pool of 2.
      expect(round).toBeLessThanOrEqual(roundsAtStop + 1)
    } finally {
      await load.stop()
    }
    expect(load.stats.errors).toEqual([])
  })
})

describe('a read slower than readTimeoutMs on a live replica (pg_sleep)', () => {
  it('runs once, on that replica (counted on the servers); the replica stays in rotation', async () => {
    const readTimeoutMs = 300
    const { prisma, events } = routed(undefined, { readTimeoutMs, sticky: false, health: { intervalMs: 100 } })
    await prisma.$connect()
    await untilChecked(prisma, 'the first health check')
    const executions = activity.executions('SlowRead')
    const started = performance.now()
    const row = await prisma.slowRead.findUnique({ where: { id: 1000 } }) // 1 s on the server
    const took = performance.now() - started
    const counted = await executions.stop()
    const stats = prisma.$routerStats()
    console.info(
      `a 1000 ms read with readTimeoutMs ${String(readTimeoutMs)}: took ${took.toFixed(0)} ms; executions per server ${JSON.stringify(counted)}; ` +
        `slowReads ${String(stats.slowReads)}, retries ${String(stats.retries)}`,
    )
    expect(row?.id).toBe(1000)
    const route = events.entries.filter((e) => e.kind === 'route')
    expect(route).toHaveLength(1)
    const served = route[0]?.kind === 'route' ? route[0].replica : undefined
    expect(counted).toEqual({ primary: 0, 'replica-1': served === 'replica-1' ? 1 : 0, 'replica-2': served === 'replica-2' ? 1 : 0 })
    expect(stats.retries).toBe(0)
    expect(stats.slowReads).toBeGreaterThanOrEqual(2) // looked at after 300 ms and 600 ms (at least)
    expect(events.entries.filter((e) => e.kind === 'health' && e.state !== 'up')).toEqual([])
    await waitForReplication()
  })
})
