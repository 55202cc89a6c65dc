/**
 * Providers whose servers report no WAL positions (Aurora PostgreSQL's storage-level replicas: "function …
 * is currently not supported", SQLSTATE 0A000; some managed poolers): LSN mode falls back to the time window,
 * says so once, and shows it (`$routerStats().mode`, `sticky: 'window'` on the routes it keeps on the primary,
 * replicas `lag-unmeasurable` in `$replicaStatus()`). Emulated on the local cluster for one role of its own: its
 * `search_path` puts a schema first whose WAL-position functions fail as Aurora's do (0A000), on every server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { readReplicas, runInScope, type RouteEvent } from '../src/index.ts'
import { cluster, healReplicas, newClient, replicaNames, requireCluster, topology, unique, until, waitForReplication } from './support/db.ts'

const ROLE = 'no_wal_positions'
const asRole = (url: string) => {
  const parsed = new URL(url)
  parsed.username = ROLE
  return parsed.toString()
}

beforeAll(async () => {
  if (!cluster) return
  const unsupported = (name: string) =>
    `CREATE OR REPLACE FUNCTION aurora_like.${name}() RETURNS pg_lsn LANGUAGE plpgsql AS $f$ BEGIN RAISE EXCEPTION 'Function ${name}() is currently not supported in this provider' USING ERRCODE = 'feature_not_supported'; END $f$`
  await cluster.query('primary', `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN SUPERUSER; END IF; END $$`)
  await cluster.query('primary', 'CREATE SCHEMA IF NOT EXISTS aurora_like')
  for (const name of ['pg_current_wal_insert_lsn', 'pg_current_wal_lsn', 'pg_last_wal_replay_lsn', 'pg_last_wal_receive_lsn']) await cluster.query('primary', unsupported(name))
  await cluster.query('primary', `ALTER ROLE ${ROLE} SET search_path = aurora_like, pg_catalog, public`)
  await waitForReplication()
})
const clients: { $disconnect(): Promise<void> }[] = []
afterEach(healReplicas)
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

function routed(options: Omit<Parameters<typeof readReplicas>[0], 'replicas'>) {
  const routes: RouteEvent[] = []
  const prisma = newClient(asRole(topology.primaryUrl)).$extends(
    readReplicas({ ...options, replicas: topology.replicas.map((r) => ({ client: newClient(asRole(r.url)), name: r.name })), onRoute: (e) => routes.push(e) }),
  )
  clients.push(prisma)
  return { prisma, routes }
}

describe('servers that report no WAL positions (Aurora-like)', () => {
  it('LSN mode falls back to the window (one warning, $routerStats().mode), 0 stale of 30 create-then-read pairs under 300 ms lag, kept on the primary as sticky window; replicas up, lag-unmeasurable', async (ctx) => {
    const c = requireCluster(ctx)
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    try {
      const { prisma, routes } = routed({ sticky: { mode: 'lsn' }, health: { intervalMs: 100 } })
      for (const name of replicaNames) await c.setReplicaLag(name, 300)
      let stale = 0
      const kept: (RouteEvent | undefined)[] = []
      for (let i = 0; i < 30; i++) {
        await runInScope(async () => {
          const note = await prisma.note.create({ data: { title: unique('no-wal') } })
          const read = await prisma.note.findUnique({ where: { id: note.id } })
          if (read?.title !== note.title) stale += 1
          kept.push(routes.at(-1))
        })
      }
      await until('the health check saw the replicas', () => prisma.$replicaStatus().every((s) => s.cause !== undefined))
      const status = prisma.$replicaStatus()
      console.info(
        `no WAL positions: mode ${String(prisma.$routerStats().mode)}; ${String(stale)} stale of 30; reads after a write: ${[...new Set(kept.map((e) => `${e?.target ?? ''} ${e?.reason ?? ''} ${e?.sticky ?? ''}`))].join(', ')}; ` +
          `replicas ${status.map((s) => `${s.name} ${s.state} (${s.cause ?? ''}, replayLsn ${String(s.replayLsn)})`).join(', ')}; warnings: ${String(warnings.filter((w) => w.includes('sticky mode')).length)}`,
      )
      expect(prisma.$routerStats().mode).toBe('window')
      expect(stale).toBe(0)
      expect(warnings.filter((w) => w.includes("sticky mode 'lsn' needs"))).toHaveLength(1)
      // Every read right after its write: on the primary, kept there by the window once the LSN mode fell back (before
      // the first health round, no replica is known to be one server: kept there without asking for a position).
      expect(kept.every((e) => e?.target === 'primary' && e.reason === 'sticky')).toBe(true)
      const fellBack = kept.findIndex((e) => e?.sticky === 'window')
      expect(fellBack).toBeGreaterThanOrEqual(0)
      expect(kept.slice(fellBack).every((e) => e?.sticky === 'window')).toBe(true)
      expect(status.map((s) => [s.state, s.cause, s.replayLsn])).toEqual(status.map(() => ['up', 'lag-unmeasurable', undefined]))
      // Plain reads still go to replicas.
      await runInScope(() => prisma.note.findFirst({ where: { id: { gt: 0 } } }))
      expect(routes.at(-1)?.target).toBe('replica')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('with maxLag, a lag that cannot be measured cannot be bounded: replicas down (lag-unmeasurable), reads on the primary, said in $replicaStatus()', async (ctx) => {
    requireCluster(ctx)
    const { prisma, routes } = routed({ sticky: false, maxLag: { ms: 1000 }, health: { intervalMs: 100 } })
    await prisma.note.findFirst({ where: { id: { gt: 0 } } })
    await until('both replicas out', () => prisma.$replicaStatus().every((s) => s.state === 'down'))
    await prisma.note.findFirst({ where: { id: { gt: 0 } } })
    console.info(
      `no WAL positions, maxLag: ${prisma
        .$replicaStatus()
        .map((s) => `${s.name} ${s.state} (${s.cause ?? ''})`)
        .join(', ')}; read: ${routes.at(-1)?.target ?? ''} ${routes.at(-1)?.reason ?? ''}`,
    )
    expect(prisma.$replicaStatus().map((s) => s.cause)).toEqual(replicaNames.map(() => 'lag-unmeasurable'))
    expect(routes.at(-1)).toMatchObject({ target: 'primary', reason: 'fallback' })
  })
})
