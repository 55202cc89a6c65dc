/**
 * Read-only transactions on a replica (`$replica().$transaction(fn)`, src/prisma/read-only-transaction.ts), on
 * the real cluster: one snapshot while a writer commits, counted on the servers, read-your-writes, writes refused
 * before the network, a replica down at BEGIN replaced, a failure inside the callback surfaced, never re-run.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Prisma } from '../../generated/prisma/client.ts'
import { InvalidOptionError, isReadOnlyTransactionError, readReplicas, runInScope, type RouteEvent } from '../../src/index.ts'
import { cluster, healReplicas, newClient, replicaNames, requireCluster, routedClient, topology, unique, until, waitForReplication } from '../support/db.ts'

afterEach(healReplicas)

const routed = routedClient({ sticky: { mode: 'lsn' } })
afterAll(async () => {
  await routed.prisma.$disconnect()
})
const { prisma, events } = routed

/** Executions of the read-only mode statement on each server (pg_stat_statements: exact, immediate). */
async function modeStatements(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  if (!cluster) return counts
  for (const name of ['primary', ...replicaNames]) {
    const rows = await cluster.query<{ calls: string }>(
      name,
      `SELECT coalesce(sum(calls), 0)::text AS calls FROM pg_stat_statements WHERE query LIKE 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY%'`,
    )
    counts[name] = Number(rows[0]?.calls ?? 0)
  }
  return counts
}

/** A transaction client's nested `$transaction` (Prisma 7 offers it; its type does not). */
interface Nesting {
  $transaction<T>(fn: (inner: typeof prisma) => Promise<T>): Promise<T>
}

/** A user and its one post, created in one transaction: counts of both agree in any snapshot. */
async function createPair(tag: string): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const user = await tx.user.create({ data: { email: `${unique(tag)}@x.test` } })
    await tx.post.create({ data: { title: `${tag} post`, authorId: user.id } })
  })
}

describe('read-only transactions on a replica: $replica().$transaction(fn)', () => {
  it('a report reading two tables while a writer commits sees one snapshot (sums agree), on replicas, counted by the servers', async () => {
    const tag = unique('ro-snapshot')
    const state = { writing: true }
    let written = 0
    const writer = (async () => {
      while (state.writing) {
        await createPair(tag)
        written += 1
      }
    })()
    const report = (tx: typeof prisma) => Promise.all([tx.user.count({ where: { email: { startsWith: tag } } }), tx.post.count({ where: { title: { startsWith: tag } } })])
    const before = await modeStatements()
    const from = events.length
    let disagreeing = 0
    let disagreeingOutside = 0
    const reports = 60
    try {
      await until('the writer committed 5 pairs', () => written >= 5)
      for (let i = 0; i < reports; i++) {
        // Each report in its own scope (a request that has not written): any replica may serve it.
        const [users, posts] = await runInScope(() => prisma.$replica().$transaction(async (tx) => await report(tx as unknown as typeof prisma)))
        if (users !== posts) disagreeing += 1
        // Control: the same two counts as two reads, not in one transaction.
        const [u, p] = await runInScope(() => report(prisma))
        if (u !== p) disagreeingOutside += 1
      }
    } finally {
      state.writing = false
      await writer
    }
    const after = await modeStatements()
    const onReplicas = events.slice(from).filter((e) => e.operation === '$transaction' && e.target === 'replica').length
    const byServer = Object.fromEntries(Object.keys(after).map((name) => [name, (after[name] ?? 0) - (before[name] ?? 0)]))
    console.info(
      `${String(reports)} reports while a writer committed ${String(written)} pairs: ${String(disagreeing)} saw counts disagree in the transaction ` +
        `(${String(disagreeingOutside)} as two separate reads); ${String(onReplicas)} routed to replicas; mode statements by server ${JSON.stringify(byServer)}`,
    )
    expect(disagreeing).toBe(0)
    expect(onReplicas).toBeGreaterThan(reports / 2)
    if (cluster) {
      // Counted by the servers: the transactions routed to replicas ran there, and only there.
      expect(replicaNames.reduce((sum, name) => sum + (byServer[name] ?? 0), 0)).toBe(onReplicas)
      expect(byServer.primary).toBe(reports - onReplicas)
    }
  })

  it('read-your-writes: a write just before it is visible in it (replicas replaying normally, and lagging 300 ms)', async (ctx) => {
    const c = requireCluster(ctx)
    await waitForReplication()
    const check = async (count: number) => {
      let stale = 0
      const from = events.length
      for (let i = 0; i < count; i++) {
        await runInScope(async () => {
          const note = await prisma.note.create({ data: { title: unique('ro-ryw') } })
          const seen = await prisma.$replica().$transaction(async (tx) => await tx.note.findUnique({ where: { id: note.id } }))
          if (seen?.title !== note.title) stale += 1
        })
      }
      const onReplicas = events.slice(from).filter((e) => e.operation === '$transaction' && e.target === 'replica').length
      return { stale, onReplicas }
    }
    const live = await check(50)
    for (const name of replicaNames) await c.setReplicaLag(name, 300)
    const lagging = await check(20)
    console.info(
      `write then read-only transaction: live replicas ${String(live.stale)} stale of 50 (${String(live.onReplicas)} on replicas); ` +
        `300 ms lag ${String(lagging.stale)} stale of 20 (${String(lagging.onReplicas)} on replicas)`,
    )
    expect(live.stale).toBe(0)
    expect(lagging.stale).toBe(0)
    expect(live.onReplicas).toBeGreaterThan(25)
    expect(lagging.onReplicas).toBe(0)
  })

  it('writes inside are refused before the network with a typed error, raw ones included; the servers never see them', async (ctx) => {
    const c = requireCluster(ctx)
    const title = unique('ro-write')
    // Whether this Prisma release offers nested transactions at all (a plain client's interactive transaction).
    const nested = await prisma.$primary().$transaction((tx) => Promise.resolve(typeof (tx as unknown as Partial<Nesting>).$transaction === 'function'))
    const statements = [
      'COMMIT',
      'SET TRANSACTION READ WRITE',
      `INSERT INTO "Note" (title) VALUES ('${title}') RETURNING id`,
      `WITH i AS (INSERT INTO "Note" (title) VALUES ('${title}') RETURNING id) SELECT id FROM i`,
    ]
    const attempts = [
      (tx: typeof prisma) => tx.note.create({ data: { title } }),
      // Prisma also exposes each model under its own name.
      (tx: typeof prisma) => (tx as unknown as { Note: typeof prisma.note }).Note.create({ data: { title } }),
      (tx: typeof prisma) => tx.note.updateMany({ where: { title }, data: { content: 'x' } }),
      (tx: typeof prisma) => tx.note.deleteMany({ where: { title } }),
      (tx: typeof prisma) => tx.note.upsert({ where: { id: -1 }, create: { title }, update: {} }),
      (tx: typeof prisma) => tx.note.createManyAndReturn({ data: [{ title }] }),
      (tx: typeof prisma) => tx.$executeRawUnsafe(`INSERT INTO "Note" (title) VALUES ('${title}')`),
      (tx: typeof prisma) => tx.$executeRaw`DELETE FROM "Note" WHERE title = ${title}`,
      ...statements.map((sql) => (tx: typeof prisma) => tx.$queryRawUnsafe(sql)),
      // A nested transaction (a savepoint; a release without them, as 7.0.0, skips these) is held to the same refusals.
      ...(nested
        ? [
            (tx: typeof prisma) => (tx as unknown as Nesting).$transaction(async (inner) => await inner.note.create({ data: { title } })),
            (tx: typeof prisma) => (tx as unknown as Nesting).$transaction(async (inner) => await inner.$executeRawUnsafe('COMMIT')),
            (tx: typeof prisma) => (tx as unknown as Nesting).$transaction(async (inner) => await inner.$queryRawUnsafe('COMMIT')),
          ]
        : []),
      // The client outside is not reachable.
      (tx: typeof prisma) => (tx as unknown as { $parent: typeof prisma }).$parent.note.create({ data: { title } }),
      // Forged raw arguments whose text is not what Prisma would send.
      (tx: typeof prisma) => tx.$queryRawTyped({ sql: 'SELECT 1', text: 'COMMIT', values: [] } as never),
      (tx: typeof prisma) => tx.$queryRaw({ raw: [], strings: ['SELECT 1'], values: [], text: `INSERT INTO "Note" (title) VALUES ('${title}') RETURNING id` } as never),
      // Undoing READ ONLY, then writing: the first call is refused, so the write never runs either.
      async (tx: typeof prisma) => {
        await tx.$queryRawUnsafe('SET TRANSACTION READ WRITE')
        return await tx.$queryRawUnsafe(`INSERT INTO "Note" (title) VALUES ('${title}') RETURNING id`)
      },
    ]
    const logsBefore = await Promise.all(['primary', ...replicaNames].map((n) => c.serverLog(n)))
    for (const attempt of attempts) {
      for (const where of ['replica', 'primary'] as const) {
        let reached = false
        const run = async (tx: unknown) => {
          reached = true
          await attempt(tx as typeof prisma)
        }
        // The primary: a scope whose write no replica has replayed (replay paused).
        const error: unknown =
          where === 'replica'
            ? await prisma
                .$replica()
                .$transaction(run)
                .catch((e: unknown) => e)
            : await runInScope(async () => {
                await c.pauseReplay(replicaNames[0] ?? '')
                await c.pauseReplay(replicaNames[1] ?? '')
                await prisma.auditLog.create({ data: { action: 'ro-write', actor: 'test' } })
                const from = events.length
                const e = await prisma
                  .$replica()
                  .$transaction(run)
                  .catch((e: unknown) => e)
                expect(events.slice(from).find((event) => event.operation === '$transaction')?.target).toBe('primary')
                await c.resumeReplay(replicaNames[0] ?? '')
                await c.resumeReplay(replicaNames[1] ?? '')
                return e
              })
        expect(reached).toBe(true)
        expect(isReadOnlyTransactionError(error)).toBe(true)
      }
    }
    expect(await prisma.$primary().note.count({ where: { title } })).toBe(0)
    // Refused before the network: no server saw a write in a read-only transaction (25006) for them.
    const logsAfter = await Promise.all(['primary', ...replicaNames].map((n) => c.serverLog(n)))
    expect(
      logsAfter.map(
        (log, i) =>
          log
            .slice(logsBefore[i]?.length ?? 0)
            .split('\n')
            .filter((line) => line.includes('sqlstate=25006')).length,
      ),
    ).toEqual([0, 0, 0])
    // A raw read that is one is allowed.
    expect(await prisma.$replica().$transaction(async (tx) => await tx.$queryRaw<{ one: number }[]>`SELECT 1 AS one`)).toEqual([{ one: 1 }])
  })

  it("monotonic reads: what a transaction on the primary read bounds the scope's later reads, also when the callback throws", async (ctx) => {
    const c = requireCluster(ctx)
    await waitForReplication()
    const other = routedClient({ sticky: false })
    const [watcher] = replicaNames as [string]
    try {
      for (const throws of [false, true]) {
        for (const name of replicaNames) await c.setReplicaLag(name, 1000)
        const title = unique('ro-mono')
        let later: unknown
        await runInScope(async () => {
          // W1, the scope's write: no replica has it yet, so the transaction runs on the primary.
          const w1 = await prisma.auditLog.create({ data: { action: 'ro-mono', actor: 'test' } })
          const w1At = performance.now()
          await prisma
            .$replica()
            .$transaction(async (tx) => {
              // W2, committed by someone else 400 ms after W1 (the gap is the workload's shape: replicas apply
              // W1 400 ms before W2), then read by the transaction.
              await until('W1 is 400 ms old', () => performance.now() - w1At >= 400)
              await other.prisma.note.create({ data: { title } })
              expect((await tx.note.findFirst({ where: { title } }))?.title).toBe(title)
              if (throws) throw new Error('the report failed')
            })
            .catch(() => undefined)
          // A replica that has W1 but not W2 may not serve the next read: the transaction saw W2.
          await until('a replica has replayed W1', async () => (await c.query(watcher, 'SELECT 1 FROM "AuditLog" WHERE id = $1', [w1.id])).length > 0)
          later = await prisma.note.findFirst({ where: { title } })
        })
        expect((later as { title?: string } | null)?.title).toBe(title)
      }
    } finally {
      await other.prisma.$disconnect()
    }
  })

  it('SERIALIZABLE or another isolation level is refused with a typed error that says why', () => {
    expect(() => prisma.$replica().$transaction(() => Promise.resolve(1), { isolationLevel: 'Serializable' })).toThrow(InvalidOptionError)
    expect(() => prisma.$replica().$transaction(() => Promise.resolve(1), { isolationLevel: 'Serializable' })).toThrow(/not available on a hot standby/)
    expect(() => prisma.$replica().$transaction(() => Promise.resolve(1), { isolationLevel: 'ReadCommitted' })).toThrow(InvalidOptionError)
  })

  it('a replica down at BEGIN is replaced like a read; $replica(name) on it surfaces the failure', async (ctx) => {
    const c = requireCluster(ctx)
    await waitForReplication()
    const [down, up] = replicaNames as [string, string]
    await c.stopReplica(down)
    let runs = 0
    const results: number[] = []
    const from = events.length
    for (let i = 0; i < 6; i++) {
      results.push(
        await prisma.$replica().$transaction(async (tx) => {
          runs += 1
          return await tx.note.count()
        }),
      )
    }
    expect(runs).toBe(6) // the callback ran once per transaction, never again after a failover
    const served = events.slice(from).filter((e) => e.operation === '$transaction')
    expect(served.filter((e) => e.target === 'replica' && e.replica === down && e.reason !== 'forced-replica').length).toBeLessThanOrEqual(1)
    expect(served.some((e) => e.replica === up)).toBe(true)
    await expect(prisma.$replica(down).$transaction(async (tx) => await tx.note.count())).rejects.toThrow()
  })

  it('a failure inside the callback surfaces as an error, and the callback is never run again', async (ctx) => {
    const c = requireCluster(ctx)
    await waitForReplication()
    const [first] = replicaNames as [string]
    let runs = 0
    const error: unknown = await prisma
      .$replica(first)
      .$transaction(async (tx) => {
        runs += 1
        await tx.note.count()
        // The replica's backends are terminated under the open transaction (an outage mid-transaction).
        await c.query(first, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")
        return await tx.note.count()
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect(runs).toBe(1)
    // And routed (not named): the same, never re-run elsewhere.
    runs = 0
    const routedError: unknown = await prisma
      .$replica()
      .$transaction(() => {
        runs += 1
        return Promise.reject(new Error('the callback failed'))
      })
      .catch((e: unknown) => e)
    expect((routedError as Error).message).toBe('the callback failed')
    expect(runs).toBe(1)
  })
})

describe('the application’s extensions inside a read-only transaction on a replica, as inside prisma.$transaction', () => {
  /** Soft delete (reads skip deleted posts), a computed field, and a log of every query the extension sees. */
  const stack = (log: string[]) =>
    Prisma.defineExtension({
      name: 'soft-delete-and-headline',
      query: {
        $allOperations({ model, operation, args, query }) {
          log.push(`${model ?? ''}.${operation}`)
          return query(args)
        },
        post: {
          findMany({ args, query }) {
            return query({ ...args, where: { ...args.where, deletedAt: null } })
          },
        },
      },
      result: { post: { headline: { needs: { title: true }, compute: (post) => post.title.toUpperCase() } } },
    })
  /** A tenant filter: every Cell read limited to one owner. */
  const tenant = (owner: string) =>
    Prisma.defineExtension({
      name: 'tenant',
      query: {
        cell: {
          findMany({ args, query }) {
            return query({ ...args, where: { ...args.where, owner } })
          },
        },
      },
    })

  it('soft delete, a computed field and a tenant filter apply on the replica (router applied before or after them); the router’s statements reach no extension', async () => {
    const writer = newClient(topology.primaryUrl)
    const user = await writer.user.create({ data: { email: `${unique('ro-ext')}@x.test` } })
    await writer.post.createMany({
      data: [
        { title: 'live', authorId: user.id },
        { title: 'gone', authorId: user.id, deletedAt: new Date() },
      ],
    })
    const owner = unique('ro-tenant')
    await writer.cell.createMany({
      data: [
        { id: `${owner}-mine`, owner },
        { id: `${owner}-theirs`, owner: `${owner}-other` },
      ],
    })
    await waitForReplication()
    const controlLog: string[] = []
    const control = writer.$extends(stack(controlLog)).$extends(tenant(owner))
    const read = (tx: typeof control) =>
      Promise.all([tx.post.findMany({ where: { authorId: user.id }, orderBy: { id: 'asc' } }), tx.cell.findMany({ where: { id: { startsWith: owner } }, orderBy: { id: 'asc' } })])
    const expected = JSON.parse(JSON.stringify(await control.$transaction((tx) => read(tx as unknown as typeof control)))) as unknown
    expect(expected).toEqual([[expect.objectContaining({ title: 'live', headline: 'LIVE' })], [expect.objectContaining({ id: `${owner}-mine` })]])
    for (const order of ['router applied after the extensions', 'router applied before them'] as const) {
      const log: string[] = []
      const routedEvents: string[] = []
      const base = newClient(topology.primaryUrl)
      const replicas = topology.replicas.map((r) => newClient(r.url))
      const router = readReplicas({ replicas, sticky: false, onRoute: (e) => routedEvents.push(`${e.operation} ${e.target}`) })
      const client = (order === 'router applied after the extensions'
        ? base.$extends(stack(log)).$extends(tenant(owner)).$extends(router)
        : base.$extends(router).$extends(stack(log)).$extends(tenant(owner))) as unknown as typeof control & { $replica(): typeof control; $primary(): typeof control }
      try {
        const inTransaction = await client.$replica().$transaction(async (tx) => {
          // $primary() and $replica() are the transaction client itself, as in prisma.$transaction.
          expect((tx as unknown as { $primary(): unknown }).$primary()).toBe(tx)
          expect((tx as unknown as { $replica(): unknown }).$replica()).toBe(tx)
          return await read(tx as unknown as typeof control)
        })
        expect(routedEvents, order).toContain('$transaction replica')
        expect(JSON.parse(JSON.stringify(inTransaction)), order).toEqual(expected)
        // The same reads through $replica() and the routed client, for comparison.
        expect(JSON.parse(JSON.stringify(await read(client.$replica()))), order).toEqual(expected)
        expect(JSON.parse(JSON.stringify(await read(client))), order).toEqual(expected)
        // The router's own statements (its mode, the snapshot it confirms) went past the extensions.
        expect(
          log.filter((entry) => entry.startsWith('.')),
          order,
        ).toEqual([])
        expect(log.slice(0, 2), order).toEqual(['Post.findMany', 'Cell.findMany'])
      } finally {
        await Promise.all([client.$disconnect(), base.$disconnect(), ...replicas.map((r) => r.$disconnect())])
      }
    }
    await writer.$disconnect()
  })
})

describe('row-level security under the router: the query an extension batches after set_config, inside $replica().$transaction', () => {
  const role = 'prr_rls_reader'
  afterAll(async () => {
    if (!cluster) return
    await cluster.query('primary', 'DROP POLICY IF EXISTS prr_rls_tenant ON "Note"')
    await cluster.query('primary', 'ALTER TABLE "Note" DISABLE ROW LEVEL SECURITY')
  })

  it('a write through tx that the extension batches is refused as any write through tx, so is one through a model delegate’s $parent, and a batched raw read must be trusted by the catalog', async (ctx) => {
    const rowLevel = Prisma.defineExtension((client) =>
      client.$extends({
        query: {
          // Every operation, raw queries included.
          async $allOperations({ args, query }) {
            const results: unknown[] = await client.$transaction([client.$executeRaw`SELECT set_config('app.tenant', ${'acme'}, TRUE)`, query(args)])
            return results[1]
          },
        },
      }),
    )
    const base = newClient(topology.primaryUrl)
    const replicas = topology.replicas.map((r) => newClient(r.url))
    const client = base.$extends(rowLevel).$extends(readReplicas({ replicas }))
    try {
      const title = unique('ro-batched-write')
      // Before: the write went into the extension's batch and committed on the primary.
      const refused = await client
        .$replica()
        .$transaction((tx) => tx.note.create({ data: { title } }))
        .catch((e: unknown) => e)
      expect(isReadOnlyTransactionError(refused)).toBe(true)
      // Before: the delegate's $parent was the transaction client under the router's checks (writes went through).
      // It is held to reads: what model methods do with it (`ctx.$parent[ctx.$name].findMany`) still runs.
      interface Parent {
        note: { create(a: unknown): Promise<unknown>; count(a: unknown): Promise<number> }
        $executeRawUnsafe(sql: string): Promise<unknown>
      }
      const viaParent = await client.$replica().$transaction(async (tx) => {
        const parent = (tx.note as unknown as { $parent: Parent }).$parent
        const spread = { ...tx.note } // Prisma lists $parent among a delegate's keys
        return {
          create: await parent.note.create({ data: { title } }).catch((e: unknown) => e),
          raw: await parent.$executeRawUnsafe(`INSERT INTO "Note" (title) VALUES ('${title}')`).catch((e: unknown) => e),
          count: await parent.note.count({ where: { title } }),
          keys: Object.keys(spread).includes('$parent'),
        }
      })
      expect(isReadOnlyTransactionError(viaParent.create)).toBe(true)
      expect(isReadOnlyTransactionError(viaParent.raw)).toBe(true)
      expect(viaParent.count).toBe(0)
      expect(viaParent.keys).toBe(true)
      // A raw read the extension batches runs on the primary outside the READ ONLY transaction: the catalog must
      // trust it (a view over a function of the application's may write), as for a replica.
      const cluster = requireCluster(ctx)
      await cluster.query('primary', `CREATE OR REPLACE FUNCTION prr_touch() RETURNS int LANGUAGE sql AS 'SELECT 1'`)
      await cluster.query('primary', 'CREATE OR REPLACE VIEW prr_touch_v AS SELECT prr_touch() AS t')
      await waitForReplication()
      const counted = await client.$replica().$transaction((tx) => tx.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM "Note" WHERE title = ${title}`)
      expect(counted).toEqual([{ n: 0 }])
      const userFunction = await client
        .$replica()
        .$transaction((tx) => tx.$queryRaw`SELECT t FROM prr_touch_v`)
        .catch((e: unknown) => e)
      expect(isReadOnlyTransactionError(userFunction)).toBe(true)
      await cluster.query('primary', 'DROP VIEW prr_touch_v; DROP FUNCTION prr_touch()')
      expect(await base.note.count({ where: { title } })).toBe(0)
      // Reads the extension batches still run (in its batch).
      expect(await client.$replica().$transaction((tx) => tx.note.count({ where: { title } }))).toBe(0)
    } finally {
      await Promise.all([client.$disconnect(), ...replicas.map((r) => r.$disconnect())])
    }
  })

  it('runs in the batch that set the tenant, as on a plain client (a real policy, a role it binds): on a replica alone, or in the transaction on the primary, it saw no tenant', async (ctx) => {
    const cluster = requireCluster(ctx)
    // A role the policy binds (the suite's own role is a superuser: policies never bind it, so other tests are unaffected).
    await cluster.query('primary', `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN NOSUPERUSER; END IF; END $$`)
    await cluster.query('primary', `GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT ON "Note" TO ${role}`)
    await cluster.query('primary', 'ALTER TABLE "Note" ENABLE ROW LEVEL SECURITY')
    await cluster.query('primary', 'DROP POLICY IF EXISTS prr_rls_tenant ON "Note"')
    await cluster.query('primary', `CREATE POLICY prr_rls_tenant ON "Note" FOR SELECT TO ${role} USING (title LIKE current_setting('app.tenant', true) || '%')`)
    const tag = unique('rls')
    const writer = newClient(topology.primaryUrl)
    await writer.note.createMany({ data: [{ title: `${tag}-acme-1` }, { title: `${tag}-globex-1` }] })
    await writer.$disconnect()
    await waitForReplication()

    const as = (url: string) => {
      const parsed = new URL(url)
      parsed.username = role
      parsed.password = ''
      return newClient(parsed.toString())
    }
    // The row-level-security pattern (function form): each Note read in a batch after set_config.
    const rowLevel = Prisma.defineExtension((client) =>
      client.$extends({
        query: {
          note: {
            async findMany({ args, query }) {
              const [, rows] = await client.$transaction([client.$executeRaw`SELECT set_config('app.tenant', ${`${tag}-acme`}, TRUE)`, query(args)])
              return rows
            },
          },
        },
      }),
    )
    const events: RouteEvent[] = []
    const plain = as(topology.primaryUrl).$extends(rowLevel)
    const replicas = topology.replicas.map((r) => as(r.url))
    const routedRls = as(topology.primaryUrl)
      .$extends(rowLevel)
      .$extends(readReplicas({ replicas, onRoute: (e) => events.push(e) }))
    try {
      const titles = (rows: { title: string }[]) => rows.map((r) => r.title).sort()
      const read = (tx: typeof plain) => tx.note.findMany({ where: { title: { startsWith: tag } } })
      expect(titles(await plain.$transaction((tx) => read(tx as unknown as typeof plain)))).toEqual([`${tag}-acme-1`])
      expect(titles(await routedRls.$replica().$transaction((tx) => read(tx as unknown as typeof plain)))).toEqual([`${tag}-acme-1`])
      // The transaction was taken on a replica; the batched read went with its batch, to the primary.
      expect(events.map((e) => `${e.operation} ${e.target} ${e.reason}`)).toEqual(['$transaction replica read', 'findMany primary transaction'])
      // On the primary too (a batch transaction just before makes the scope's next reads sticky there): the read
      // runs in its batch, not in the read-only transaction.
      events.length = 0
      const onPrimary = await runInScope(async () => {
        await routedRls.$transaction([routedRls.note.count()])
        return await routedRls.$replica().$transaction((tx) => read(tx as unknown as typeof plain))
      })
      expect(events.find((e) => e.operation === '$transaction' && e.model === undefined && e.target === 'primary' && e.reason === 'sticky')).toBeDefined()
      expect(titles(onPrimary)).toEqual([`${tag}-acme-1`])
      // Outside a transaction too (the fast path's primary-only step).
      expect(titles(await routedRls.note.findMany({ where: { title: { startsWith: tag } } }))).toEqual([`${tag}-acme-1`])
    } finally {
      await Promise.all([plain.$disconnect(), routedRls.$disconnect(), ...replicas.map((r) => r.$disconnect())])
    }
  })
})
