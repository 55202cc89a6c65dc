/**
 * PgBouncer (Debian's, 1.18, transaction mode: what Neon's and Supabase's pooled endpoints are) in the topology,
 * started by the test kit (src/testing/pgbouncer.ts) in front of the local cluster's servers: in front of the
 * primary and of each replica, and one spread over both standbys. Skips, saying why, where PgBouncer is not
 * installed (`.ci/run` installs it).
 */
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest'
import { readReplicas, runInScope, type RouteEvent } from '../src/index.ts'
import { findPgBouncer, startPgBouncer, type PgBouncer } from '../src/testing/pgbouncer.ts'
import { cluster, healReplicas, newClient, replicaNames, timeline, topology, unique, until, untilChecked, waitForReplication } from './support/db.ts'
import { readLoad } from './support/read-load.ts'

const installed = (() => {
  try {
    findPgBouncer()
    return true
  } catch {
    return false
  }
})()
const database = new URL(topology.primaryUrl).pathname.slice(1)

let bouncers: { primary: PgBouncer; replicas: PgBouncer[]; both: PgBouncer } | undefined
beforeAll(async () => {
  const c = cluster
  if (!installed || !c) return
  const primary = await startPgBouncer({ servers: [{ port: c.info.primary.port }] })
  const replicas = await Promise.all(replicaNames.map((n) => startPgBouncer({ servers: [{ port: c.replica(n).port }] })))
  const both = await startPgBouncer({ servers: replicaNames.slice(0, 2).map((n) => ({ port: c.replica(n).port })) })
  bouncers = { primary, replicas, both }
})
const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
  if (bouncers) await Promise.all([bouncers.primary, bouncers.both, ...bouncers.replicas].map((b) => b.stop()))
})
afterEach(healReplicas)

/** The bouncers, or a skip saying why there are none. */
function requireBouncers(ctx: TestContext): NonNullable<typeof bouncers> {
  if (!installed) return ctx.skip('PgBouncer is not installed (apt-get install pgbouncer; .ci/run does)')
  if (!bouncers || !cluster) return ctx.skip('needs the local cluster to put PgBouncer in front of its servers')
  return bouncers
}

interface Entry {
  url: string
  name: string
  pooled?: boolean
}

/** A routed client over the given URLs (through bouncers), recording routes and health changes. */
function routedOver(primaryUrl: string, entries: readonly Entry[], options: Omit<Parameters<typeof readReplicas>[0], 'replicas'> = {}) {
  const events = timeline()
  const routes: RouteEvent[] = []
  const prisma = newClient(primaryUrl).$extends(
    readReplicas({
      ...options,
      replicas: entries.map((e) => ({ client: newClient(e.url), name: e.name, pooled: e.pooled ?? false })),
      onRoute: (e) => {
        routes.push(e)
        events.onRoute(e)
      },
      onHealthChange: events.onHealthChange,
    }),
  )
  clients.push(prisma)
  return { prisma, events, routes }
}

type Routed = ReturnType<typeof routedOver>

/** `count` create-then-read pairs, each in a scope of its own: stale reads and the share served by replicas. */
async function pairs({ prisma, routes }: Routed, count: number) {
  let stale = 0
  let onReplica = 0
  for (let i = 0; i < count; i++) {
    await runInScope(async () => {
      const note = await prisma.note.create({ data: { title: unique('bouncer') } })
      const read = await prisma.note.findUnique({ where: { id: note.id } })
      if (read?.title !== note.title) stale += 1
      if (routes.at(-1)?.target === 'replica') onReplica += 1
    })
  }
  return { stale, share: onReplica / count }
}

describe('PgBouncer in transaction mode in front of each server', () => {
  it('primary and replicas behind a bouncer each: 0 stale of 50 live and of 20 under 300 ms lag, >= 90% live on replicas, no entry flagged pooled; a token read on another instance', async (ctx) => {
    const b = requireBouncers(ctx)
    const entries = b.replicas.map((r, i) => ({ url: r.url(database), name: replicaNames[i] as string }))
    // waitMs: the share on replicas measures the router, not how fast a loaded machine replays (0.88 once in CI
    // with one check and no wait); a replica 300 ms behind is still not waited for.
    const routed = routedOver(b.primary.url(database), entries, { sticky: { mode: 'lsn', waitMs: 100 } })
    const other = routedOver(b.primary.url(database), entries, { sticky: { mode: 'lsn' } })
    await waitForReplication()
    // Steady state: once the health check's first round has identified each entry (reads after a write do not
    // rely on one before).
    await routed.prisma.note.findFirst()
    await untilChecked(routed.prisma)
    const live = await pairs(routed, 50)
    for (const name of replicaNames) await cluster?.setReplicaLag(name, 300)
    const lagging = await pairs(routed, 20)
    // A token from one instance, read on another (positions asked of the primary through its bouncer).
    let tokenStale = 0
    for (let i = 0; i < 10; i++) {
      const { note, token } = await runInScope(async () => {
        const n = await routed.prisma.note.create({ data: { title: unique('bouncer-token') } })
        return { note: n, token: await routed.prisma.$consistencyToken() }
      })
      const read = await runInScope(() => other.prisma.note.findUnique({ where: { id: note.id } }), { token })
      if (read?.title !== note.title) tokenStale += 1
    }
    const status = routed.prisma.$replicaStatus()
    console.info(
      `PgBouncer per server: ${String(live.stale)} stale of 50 live (${(live.share * 100).toFixed(0)}% on replicas), ` +
        `${String(lagging.stale)} stale of 20 under 300 ms lag (${(lagging.share * 100).toFixed(0)}% on replicas), ${String(tokenStale)} stale of 10 token reads; ` +
        `pooled: ${status.map((s) => `${s.name} ${String(s.pooled)}`).join(', ')}`,
    )
    expect(live.stale).toBe(0)
    expect(lagging.stale).toBe(0)
    expect(tokenStale).toBe(0)
    expect(live.share).toBeGreaterThanOrEqual(0.9)
    expect(status.map((s) => s.pooled)).toEqual(entries.map(() => false))
  })

  it('the router leaves no session state on the servers behind a bouncer: settings, prepared statements, cursors, temporary tables as on a fresh connection', async (ctx) => {
    requireBouncers(ctx)
    const small = await startPgBouncer({ servers: [{ port: cluster?.replica('replica-1').port ?? 0 }], poolSize: 2 })
    const smallPrimary = await startPgBouncer({ servers: [{ port: cluster?.info.primary.port ?? 0 }], poolSize: 2 })
    try {
      const routed = routedOver(smallPrimary.url(database), [{ url: small.url(database), name: 'replica-1' }], {
        sticky: { mode: 'lsn' },
        health: { intervalMs: 50 },
        raw: 'classify',
      })
      // Every kind of query the router sends on its own and the application's behalf.
      await runInScope(async () => {
        for (let i = 0; i < 20; i++) {
          const note = await routed.prisma.note.create({ data: { title: unique('bouncer-state') } })
          await routed.prisma.note.findUnique({ where: { id: note.id } })
          await routed.prisma.$replica().$transaction((tx) => tx.note.count())
          await routed.prisma.$queryRaw`SELECT count(*) FROM "Note"`
          await routed.prisma.$consistencyToken()
        }
      })
      await until('health rounds', () => routed.prisma.$replicaStatus()[0]?.replayLsn !== undefined)
      const fresh = async (url: string) => {
        const c = new pg.Client({ connectionString: url })
        await c.connect()
        try {
          return (await c.query(STATE_SQL)).rows[0] as Record<string, unknown>
        } finally {
          await c.end()
        }
      }
      const direct = { replica: await fresh(cluster?.replica('replica-1').url ?? ''), primary: await fresh(cluster?.info.primary.url ?? '') }
      // Each server connection of the bouncers (2 each), reached by 2 concurrent transactions, several times.
      const seen: Record<string, unknown>[] = []
      for (const [bouncer, expected] of [
        [small, direct.replica],
        [smallPrimary, direct.primary],
      ] as const) {
        const pool = new pg.Pool({ connectionString: bouncer.url(database), max: 2 })
        try {
          for (let round = 0; round < 5; round++) {
            const rows = await Promise.all([0, 1].map(async () => (await pool.query(`${STATE_SQL}, (SELECT 1 FROM pg_sleep(0.01)) AS held`)).rows[0] as Record<string, unknown>))
            for (const row of rows) {
              const state = Object.fromEntries(Object.entries(row).filter(([k]) => k !== 'held'))
              seen.push(state)
              expect(state).toEqual(expected)
            }
          }
        } finally {
          await pool.end()
        }
      }
      console.info(`server connections behind bouncers checked: ${String(seen.length)}, state as on a fresh connection: ${JSON.stringify(direct.replica)}`)
    } finally {
      await Promise.all([small.stop(), smallPrimary.stop()])
    }
  })

  it('a replica’s bouncer restarted under 8 readers: 0 failed reads, the replica back in rotation by itself', async (ctx) => {
    const b = requireBouncers(ctx)
    const own = await startPgBouncer({ servers: [{ port: cluster?.replica('replica-1').port ?? 0 }] })
    try {
      const routed = routedOver(
        b.primary.url(database),
        [
          { url: own.url(database), name: 'replica-1' },
          { url: b.replicas[1]?.url(database) ?? '', name: 'replica-2' },
        ],
        { sticky: false },
      )
      const load = readLoad(() => routed.prisma.note.findFirst({ where: { id: { gt: 0 } } }), 8)
      await until('100 reads before the restart', () => load.stats.ok >= 100)
      const restartedAt = performance.now()
      await own.restart()
      const listening = performance.now()
      await until(
        'replica-1 serves reads again after the restart',
        () => routed.events.entries.some((e) => e.kind === 'route' && e.at > listening && e.replica === 'replica-1'),
        20_000,
      )
      await until('100 more reads', () => load.stats.ok >= 300)
      await load.stop()
      const down = routed.events.entries.filter((e) => e.kind === 'health' && e.at > restartedAt).map((e) => (e.kind === 'health' ? `${e.replica} ${e.state} (${e.cause})` : ''))
      console.info(
        `bouncer of replica-1 restarted under 8 readers: ${String(load.stats.ok)} reads ok, ${String(load.stats.failed)} failed; health changes after: ${down.join(', ') || 'none'}`,
      )
      expect(load.stats.failed).toBe(0)
    } finally {
      await own.stop()
    }
  })
})

describe('servers dying behind their bouncers', () => {
  for (const fault of ['stopped', 'crashed'] as const) {
    it(`a replica ${fault} behind its bouncer under 8 readers, mid-query (raw reads of ~10 ms): 0 failed reads (PgBouncer's own errors for it are connection failures), the replica back in rotation after its restart`, async (ctx) => {
      const b = requireBouncers(ctx)
      const c = cluster as NonNullable<typeof cluster>
      const routed = routedOver(
        b.primary.url(database),
        b.replicas.map((r, i) => ({ url: r.url(database), name: replicaNames[i] as string })),
        { sticky: false, health: { intervalMs: 100 }, raw: 'classify' },
      )
      // Reads that last long enough for the fault to land in the middle of some.
      const load = readLoad(() => routed.prisma.$queryRaw`SELECT count(*) FROM generate_series(1, 100000)`, 8)
      await until('100 reads before the fault', () => load.stats.ok >= 100)
      const faultAt = performance.now()
      if (fault === 'stopped') await c.stopReplica('replica-1')
      else await c.crashReplica('replica-1')
      await until('200 reads after the fault', () => load.stats.ok >= 300)
      if (fault === 'stopped') await c.startReplica('replica-1')
      const restarted = performance.now()
      await until('replica-1 serves reads again', () => routed.events.entries.some((e) => e.kind === 'route' && e.at > restarted && e.replica === 'replica-1'), 20_000).catch(
        async (error: unknown) => {
          console.info('status', JSON.stringify(routed.prisma.$replicaStatus()), (await b.replicas[0]?.log())?.slice(-1500))
          throw error
        },
      )
      await load.stop()
      const health = routed.events.entries.filter((e) => e.kind === 'health' && e.at > faultAt).map((e) => (e.kind === 'health' ? `${e.replica} ${e.state} (${e.cause})` : ''))
      console.info(
        `replica-1 ${fault} behind its bouncer under 8 readers: ${String(load.stats.ok)} reads ok, ${String(load.stats.failed)} failed ${load.stats.errors.map((e) => String(e).slice(0, 120)).join(' | ')}; health: ${health.join(', ')}`,
      )
      expect(load.stats.failed).toBe(0)
    })
  }
})

describe('one PgBouncer spread over both standbys', () => {
  it('configured pooled: reads after a write never go through it (0 stale with one standby paused), plain reads do', async (ctx) => {
    const b = requireBouncers(ctx)
    const routed = routedOver(topology.primaryUrl, [{ url: b.both.url(database), name: 'standbys', pooled: true }], { sticky: { mode: 'lsn' } })
    await waitForReplication()
    await cluster?.pauseReplay('replica-1')
    const result = await pairs(routed, 30)
    let plainOnReplica = 0
    for (let i = 0; i < 20; i++) {
      await runInScope(() => routed.prisma.note.findFirst({ where: { id: { gt: 0 } } }))
      if (routed.routes.at(-1)?.target === 'replica') plainOnReplica += 1
    }
    console.info(
      `one bouncer over both standbys, pooled: ${String(result.stale)} stale of 30 (${(result.share * 100).toFixed(0)}% on it), plain reads ${String(plainOnReplica)}/20 on it`,
    )
    expect(result.stale).toBe(0)
    expect(result.share).toBe(0)
    expect(plainOnReplica).toBe(20)
  })

  it('not configured: detected as pooled by the first health round, before any read relies on it (a fresh bouncer each time, 5 times)', async (ctx) => {
    requireBouncers(ctx)
    for (let attempt = 0; attempt < 5; attempt++) {
      const fresh = await startPgBouncer({ servers: replicaNames.slice(0, 2).map((n) => ({ port: cluster?.replica(n).port ?? 0 })) })
      try {
        const routed = routedOver(topology.primaryUrl, [{ url: fresh.url(database), name: 'standbys' }], { sticky: { mode: 'lsn' } })
        await routed.prisma.note.findFirst({ where: { id: { gt: 0 } } })
        // The first round ends before the second starts (1 s, the default interval): flagged by then.
        await until('the first health round', () => routed.prisma.$replicaStatus()[0]?.replayLsn !== undefined)
        expect(routed.prisma.$replicaStatus()[0]?.pooled).toBe(true)
        await routed.prisma.$disconnect()
      } finally {
        await fresh.stop()
      }
    }
  })

  it('not configured, the bouncer already warm: detected as pooled, with one warning', async (ctx) => {
    const b = requireBouncers(ctx)
    const routed = routedOver(topology.primaryUrl, [{ url: b.both.url(database), name: 'standbys' }], { sticky: { mode: 'lsn' }, health: { intervalMs: 50 } })
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    try {
      await routed.prisma.note.findFirst({ where: { id: { gt: 0 } } })
      await until('the entry is flagged pooled', () => routed.prisma.$replicaStatus()[0]?.pooled === true, 10_000)
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings.some((m) => m.includes('served by more than one server'))).toBe(true)
  })
})

/** What a connection's session state is: settings a SET would change, prepared statements, cursors, temp tables. */
const STATE_SQL = `SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('search_path') AS search_path,
  current_setting('default_transaction_read_only') AS read_only, current_setting('transaction_isolation') AS isolation,
  current_setting('intervalstyle') AS intervalstyle, current_setting('timezone') AS timezone,
  (SELECT count(*)::int FROM pg_prepared_statements) AS prepared, (SELECT count(*)::int FROM pg_cursors) AS cursors,
  (SELECT count(*)::int FROM pg_class WHERE relpersistence = 't') AS temp_tables`
