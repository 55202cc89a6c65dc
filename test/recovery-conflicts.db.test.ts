/**
 * Recovery conflicts on hot standbys: a replica with `hot_standby_feedback = off` and
 * `max_standby_streaming_delay = 0` cancels a query the moment replay must remove rows its snapshot may still see
 * (SQLSTATE 40001, "canceling statement due to conflict with recovery"). That is the replica's condition, not the
 * query's fault: a plain read is retried on another replica (never the same) or the primary, counted and
 * reported, and the replica stays in rotation; a read-only transaction cannot be run again behind the
 * application's back, so it fails with a typed, retryable error that says what happened and what to set.
 *
 * Each conflict is provoked for real and checked on the server (`pg_stat_database_conflicts`): a read on a
 * replica is running (seen in `pg_stat_activity`), then the primary updates a row and vacuums its table; the
 * replica replays the removal and cancels the read. A plain client of the replica, beside the routed one, gets
 * the error the router spares the application.
 */
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isRecoveryConflictError, RecoveryConflictError } from '../src/index.ts'
import { cluster, healReplicas, newClient, replicaNames, requireCluster, routedClient, topology, until, untilChecked, waitForReplication } from './support/db.ts'

const TABLE = 'prr_recovery_conflict'

/** SQL on one server, on a connection of its own. */
async function onServer<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

const urlOf = (name: string) => (name === 'primary' ? topology.primaryUrl : (topology.replicas.find((r) => r.name === name)?.url ?? ''))

/** Snapshot conflicts each replica has cancelled a query for so far. */
async function conflicts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const name of replicaNames) {
    const [row] = await onServer<{ n: number }>(urlOf(name), 'SELECT confl_snapshot::int AS n FROM pg_stat_database_conflicts WHERE datname = current_database()')
    counts[name] = row?.n ?? 0
  }
  return counts
}

/** Statements containing `marker` running on each replica. */
async function running(marker: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const name of replicaNames) {
    const rows = await onServer<{ n: number }>(
      urlOf(name),
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND strpos(query, '${marker}') > 0 AND pid <> pg_backend_pid()`,
    )
    counts[name] = rows[0]?.n ?? 0
  }
  return counts
}

/** The server's message, as the driver adapter kept it on a Prisma error. */
function serverMessage(error: unknown): unknown {
  return (error as { meta?: { driverAdapterError?: { cause?: { originalMessage?: unknown } } } }).meta?.driverAdapterError?.cause?.originalMessage
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0)

/** On the primary: a row updated, then its table vacuumed (the old version removed: replicas replay the removal). */
async function removeRowVersions(): Promise<void> {
  const client = new pg.Client({ connectionString: topology.primaryUrl })
  await client.connect()
  try {
    await client.query(`UPDATE ${TABLE} SET v = v + 1`)
    await client.query(`VACUUM ${TABLE}`)
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  if (!cluster) return
  await onServer(topology.primaryUrl, `CREATE TABLE IF NOT EXISTS ${TABLE} (id int PRIMARY KEY, v int NOT NULL)`)
  await onServer(topology.primaryUrl, `INSERT INTO ${TABLE} VALUES (1, 0) ON CONFLICT DO NOTHING`)
  await waitForReplication()
})

afterEach(async () => {
  if (!cluster) return
  for (const name of replicaNames) await cluster.setRecoveryConflicts(name, { hotStandbyFeedback: true, maxStandbyStreamingDelayMs: 30_000 })
  await healReplicas()
})

const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

/** Both replicas cancel a conflicting query at once, and the primary keeps no row version for them. */
async function cancelOnConflict(ctx: Parameters<typeof requireCluster>[0]): Promise<void> {
  const c = requireCluster(ctx)
  for (const name of replicaNames) await c.setRecoveryConflicts(name, { hotStandbyFeedback: false, maxStandbyStreamingDelayMs: 0 })
}

describe('a plain read cancelled by a recovery conflict', () => {
  it('is retried on another replica (never the same) or the primary and answers; the replica stays up; counted, warned once; a plain replica client fails', async (ctx) => {
    await cancelOnConflict(ctx)
    const { prisma, events } = routedClient()
    clients.push(prisma)
    await prisma.user.findFirst()
    await untilChecked(prisma)
    const plain = newClient(topology.replicas[0]?.url ?? '')
    clients.push(plain)
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      // 3 s reads (test-only view: reading row N takes N ms), one routed, one through a plain replica client.
      const routedRead = prisma.slowRead.findUnique({ where: { id: 3000 } })
      const plainRead = plain.slowRead.findUnique({ where: { id: 3000 } })
      const settled = Promise.allSettled([routedRead, plainRead])
      await until('both reads running on replicas', async () => total(await running('SlowRead')) >= 2)
      await removeRowVersions()
      const [routed, control] = await settled
      // The control: the replica's cancellation, as a plain client reports it (P2034, the server's message kept
      // by the driver adapter). The server's own count is not asked: a session that reported statistics less
      // than a second before counts the conflict only up to 10 s later.
      expect(control.status).toBe('rejected')
      expect(String((control as PromiseRejectedResult).reason)).toMatch(/write conflict or a deadlock/)
      expect(serverMessage((control as PromiseRejectedResult).reason)).toBe('canceling statement due to conflict with recovery')
      // The routed read answered, from another server than the one that cancelled it.
      expect(routed).toEqual({ status: 'fulfilled', value: { id: 3000, slept: '' } })
      const attempts = events.filter((e) => e.model === 'SlowRead')
      const first = attempts[0]
      expect(first).toMatchObject({ target: 'replica', reason: 'read' })
      expect(attempts.length).toBeGreaterThanOrEqual(2)
      for (const retry of attempts.slice(1)) {
        expect(retry.reason).toBe('retry')
        expect(retry.replica).not.toBe(first?.replica)
      }
      const stats = prisma.$routerStats()
      expect(stats.recoveryConflicts).toBeGreaterThanOrEqual(1)
      expect(stats.retries).toBe(1)
      // A replica condition, not an outage: every replica stays in rotation.
      expect(prisma.$replicaStatus().map((r) => r.state)).toEqual(replicaNames.map(() => 'up'))
      expect(prisma.$replicaStatus().find((r) => r.name === first?.replica)?.recoveryConflicts).toBeGreaterThanOrEqual(1)
      const conflictWarnings = warnings.filter((w) => (w as { code?: string }).code === 'PRISMA_REPLICA_ROUTER_RECOVERY_CONFLICT')
      expect(conflictWarnings.length).toBeGreaterThanOrEqual(1)
      expect(conflictWarnings[0]?.message).toMatch(/hot_standby_feedback/)
      expect(conflictWarnings[0]?.message).not.toMatch(/postgres(ql)?:\/\//)
    } finally {
      process.off('warning', onWarning)
    }
  })
})

describe('a read-only transaction on a replica cancelled by a recovery conflict', () => {
  it('fails with RecoveryConflictError (retryable, says what to set); the callback ran once', async (ctx) => {
    await cancelOnConflict(ctx)
    const { prisma, events } = routedClient()
    clients.push(prisma)
    await prisma.user.findFirst()
    await untilChecked(prisma)
    let runs = 0
    const before = await conflicts()
    const outcome = await prisma
      .$replica()
      .$transaction(async (tx) => {
        runs += 1
        await tx.post.findMany({ take: 1 })
        // Idle in the transaction, its snapshot held: replay removes rows it may see.
        await removeRowVersions()
        await until('the replica cancelled the transaction', async () => total(await conflicts()) > total(before))
        return await tx.post.findMany({ take: 1 })
      })
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      )
    expect(runs).toBe(1)
    expect(outcome).toHaveProperty('error')
    const error = (outcome as { error: unknown }).error
    expect(error).toBeInstanceOf(RecoveryConflictError)
    expect(isRecoveryConflictError(error)).toBe(true)
    const conflict = error as RecoveryConflictError
    expect(conflict.retryable).toBe(true)
    expect(conflict.replica).toBe(events.find((e) => e.operation === '$transaction' && e.target === 'replica')?.replica)
    expect(conflict.message).toMatch(/conflict with recovery/)
    expect(conflict.message).toMatch(/hot_standby_feedback/)
    expect(conflict.message).toMatch(/max_standby_streaming_delay/)
    // The replica stays in rotation: the next read is served by a replica.
    expect(prisma.$replicaStatus().map((r) => r.state)).toEqual(replicaNames.map(() => 'up'))
  })
})

describe('a read-only transaction on a replica: which failures are recovery conflicts', () => {
  it('a statement of the transaction cancelled while it runs: RecoveryConflictError (the statement’s own 40001)', async (ctx) => {
    await cancelOnConflict(ctx)
    const { prisma } = routedClient()
    clients.push(prisma)
    await prisma.user.findFirst()
    await untilChecked(prisma)
    let runs = 0
    const transaction = prisma
      .$replica()
      .$transaction(async (tx) => {
        runs += 1
        return await tx.slowRead.findUnique({ where: { id: 3000 } })
      })
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      )
    await until('the transaction’s read running on a replica', async () => total(await running('SlowRead')) >= 1)
    await removeRowVersions()
    const outcome = await transaction
    expect(runs).toBe(1)
    const error = (outcome as { error?: unknown }).error
    expect(error).toBeInstanceOf(RecoveryConflictError)
    expect(serverMessage((error as RecoveryConflictError).cause)).toBe('canceling statement due to conflict with recovery')
    expect(prisma.$routerStats().recoveryConflicts).toBe(1)
  })

  it('a session ended by an administrator (pg_terminate_backend), no conflict: the error as it came, not RecoveryConflictError', async (ctx) => {
    requireCluster(ctx)
    const { prisma, events } = routedClient()
    clients.push(prisma)
    await prisma.user.findFirst()
    await untilChecked(prisma)
    const outcome = await prisma
      .$replica()
      .$transaction(async (tx) => {
        await tx.post.findMany({ take: 1 })
        const replica = events.find((e) => e.operation === '$transaction' && e.target === 'replica')?.replica ?? ''
        await onServer(urlOf(replica), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")
        await until(
          'the session ended',
          async () => (await onServer<{ n: number }>(urlOf(replica), "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"))[0]?.n === 0,
        )
        return await tx.post.findMany({ take: 1 })
      })
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      )
    const error = (outcome as { error?: unknown }).error
    expect(error).toBeDefined()
    expect(isRecoveryConflictError(error)).toBe(false)
    expect(prisma.$routerStats().recoveryConflicts).toBe(0)
  })
})
