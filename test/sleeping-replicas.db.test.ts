/**
 * Replicas that suspend when idle and wake on the next connection, as Neon's computes do (the test kit's
 * sleepWhenIdle: the replica's server really stopped after `idleMs` without connections, started again by the
 * next one, which is held until it accepts). A sleeping replica is `waking`, not `down`: the first reads after
 * idle neither fail nor wait for it; it returns to rotation by itself.
 */
import { PrismaPg } from '@prisma/adapter-pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { PrismaClient } from '../generated/prisma/client.ts'
import { readReplicas, type HealthEvent, type RouteEvent } from '../src/index.ts'
import { sleepWhenIdle, type SleepingReplica } from '../src/testing/sleeping-replica.ts'
import { healReplicas, replicaNames, requireCluster, topology, until, waitForReplication } from './support/db.ts'
import { readLoad } from './support/read-load.ts'

const entries: SleepingReplica[] = []
const clients: { $disconnect(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.$disconnect()))
  await Promise.all(entries.splice(0).map((e) => e.stop()))
  await healReplicas()
})
afterAll(async () => {
  await Promise.all(entries.map((e) => e.stop()))
})

/** A client whose pool closes idle connections after 50 ms (so that the entry sees none and the replica sleeps). */
const client = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url, idleTimeoutMillis: 50 }) })

describe('replicas that sleep when idle (Neon)', () => {
  it('every replica asleep: the first reads after idle go to the primary, none fails; each replica is waking, then up by itself, and serves again', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    const sleepy = await Promise.all(replicaNames.map((n) => sleepWhenIdle(cluster, n, { idleMs: 300 })))
    entries.push(...sleepy)
    const routes: (RouteEvent & { at: number })[] = []
    const health: (HealthEvent & { at: number })[] = []
    const prisma = client(topology.primaryUrl).$extends(
      readReplicas({
        replicas: sleepy.map((s) => ({ client: client(s.url()), name: s.name })),
        health: { idleAfterMs: 100, intervalMs: 100 },
        onRoute: (e) => routes.push({ ...e, at: performance.now() }),
        onHealthChange: (e) => health.push({ ...e, at: performance.now() }),
      }),
    )
    clients.push(prisma)
    const read = () => prisma.note.findFirst({ where: { id: { gt: 0 } } })
    await read()
    await until('a read on a replica', () => routes.some((r) => r.target === 'replica'))
    // Settled before the pause: on a loaded machine a cold client's first query can outlast idleMs (the replica
    // sleeps before it connects) and idleAfterMs (the router pauses under it), so wakes and states before this
    // point are not the pause's.
    // Reading meanwhile: with idleAfterMs 100 the checks pause whenever no query comes, maybe before a round ends.
    await until(
      'replicas up, checked',
      async () => {
        if (prisma.$replicaStatus().every((s) => s.state === 'up' && s.replayLsn !== undefined)) return true
        await read()
        return false
      },
      20_000,
    )
    const wakesBefore = sleepy.map((s) => s.counts.wakes)
    // Idle: the router's checks pause, every connection closes, the replicas sleep.
    await until('every replica asleep', () => sleepy.every((s) => s.asleep && !cluster.isRunning(s.name)), 20_000)
    const resumedAt = performance.now()
    const load = readLoad(read, 4)
    await until('every replica awake and serving reads again', () => replicaNames.every((n) => routes.some((r) => r.at > resumedAt && r.replica === n)), 30_000)
    await load.stop()
    const during = routes.filter((r) => r.at > resumedAt)
    const firstOnReplica = during.findIndex((r) => r.target === 'replica')
    const wokenAt = Math.min(...replicaNames.map((n) => health.find((h) => h.at > resumedAt && h.replica === n && h.state === 'up')?.at ?? Infinity))
    const inWake = routes.filter((r) => r.at > resumedAt && r.at < wokenAt)
    console.info(
      `every replica asleep, then 4 readers: ${String(load.stats.ok)} reads ok, ${String(load.stats.failed)} failed; ` +
        `first replica read after ${String(firstOnReplica)} reads; woken ${(wokenAt - resumedAt).toFixed(0)} ms after the first read; ` +
        `during the wake ${String(inWake.length)} reads, ${String(inWake.filter((r) => r.target === 'primary').length)} on the primary; ` +
        `health: ${health
          .filter((h) => h.at > resumedAt - 1)
          .map((h) => `${h.replica} ${h.state} (${h.cause})`)
          .join(', ')}; wakes: ${sleepy.map((s, i) => String(s.counts.wakes - (wakesBefore[i] ?? 0))).join('/')}`,
    )
    expect(load.stats.failed).toBe(0)
    for (const s of sleepy) expect(s.errors).toEqual([])
    expect(sleepy.map((s, i) => s.counts.wakes - (wakesBefore[i] ?? 0))).toEqual(sleepy.map(() => 1))
    // Each replica went waking -> up (never down) after the pause.
    for (const n of replicaNames) {
      const states = health.filter((h) => h.at >= resumedAt - 1 && h.replica === n).map((h) => h.state)
      expect(states[0]).toBe('waking')
      expect(states).not.toContain('down')
      expect(states.at(-1)).toBe('up')
    }

    // The first read after idle, against a plain client reading the same (sleeping) replica: informational
    // (timings belong in benchmarks), both measured in this run.
    const plain = client(sleepy[0]?.url() ?? '')
    clients.push(plain)
    const firstRead = async (run: () => Promise<unknown>) => {
      await until('every replica asleep again', () => sleepy.every((s) => s.asleep && !cluster.isRunning(s.name)), 20_000)
      const started = performance.now()
      await run()
      return performance.now() - started
    }
    const plainMs = await firstRead(() => plain.note.findFirst({ where: { id: { gt: 0 } } }))
    await plain.$disconnect()
    const routedMs = await firstRead(read)
    console.info(
      `first read after idle, every replica asleep: plain client on replica-1 ${plainMs.toFixed(0)} ms (it waits for the wake), routed ${routedMs.toFixed(0)} ms (${routes.at(-1)?.target ?? ''})`,
    )
    expect(routes.at(-1)?.target).toBe('primary')
  })

  it("fallback: 'error' (never the primary): the first reads after idle wait for a waking replica instead of failing, and are served by replicas", async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    const sleepy = await Promise.all(replicaNames.map((n) => sleepWhenIdle(cluster, n, { idleMs: 300 })))
    entries.push(...sleepy)
    const routes: RouteEvent[] = []
    const prisma = client(topology.primaryUrl).$extends(
      readReplicas({
        replicas: sleepy.map((s) => ({ client: client(s.url()), name: s.name })),
        fallback: 'error',
        health: { idleAfterMs: 100, intervalMs: 100 },
        onRoute: (e) => routes.push(e),
      }),
    )
    clients.push(prisma)
    const read = () => prisma.note.findFirst({ where: { id: { gt: 0 } } })
    await read()
    await until('every replica asleep', () => sleepy.every((s) => s.asleep && !cluster.isRunning(s.name)), 20_000)
    const before = routes.length
    const results = await Promise.allSettled(Array.from({ length: 8 }, read))
    const failed = results.filter((r) => r.status === 'rejected')
    const after = routes.slice(before)
    console.info(`fallback 'error', every replica asleep, 8 reads at once: ${String(failed.length)} failed; routes: ${after.map((r) => r.replica ?? r.target).join(', ')}`)
    expect(failed).toEqual([])
    expect(after.filter((r) => r.target === 'primary')).toEqual([])
  })
})
