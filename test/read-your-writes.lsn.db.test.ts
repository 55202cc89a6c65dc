import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { isReplicaRouterError, readReplicas, runInScope, type RouteEvent } from '../src/index.ts'
import { PrismaClient } from '../generated/prisma/client.ts'
import { adapterFor } from './support/driver.ts'
import { PooledEntry } from './support/pooled-entry.ts'
import { healReplicas, newClient, replicaNames, requireCluster, routedClient, topology, unique, until, untilChecked, waitForReplication } from './support/db.ts'

afterEach(healReplicas)

const lsn = routedClient({ sticky: { mode: 'lsn' } })
const win = routedClient({ sticky: { mode: 'window', windowMs: 2000 } })
const waiting = routedClient({ sticky: { mode: 'lsn', waitMs: 50 } })
const unsticky = routedClient({ sticky: false })
afterAll(async () => {
  await Promise.all([lsn.prisma.$disconnect(), win.prisma.$disconnect(), waiting.prisma.$disconnect(), unsticky.prisma.$disconnect()])
})

type Routed = typeof lsn.prisma

/** Why the share measurements run in the db project only (CI time): the driver does not decide where reads go. */
const SHARES_ON_PG = 'a measurement of where reads go, run by the db project (the driver does not decide it); stale reads under lag are checked here too'
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Create-then-read pairs in one scope (optionally `gapMs` apart, the workload's think time). */
async function pairs(prisma: Routed, events: RouteEvent[], count: number, gapMs = 0) {
  return await runInScope(async () => {
    let stale = 0
    let onReplica = 0
    for (let i = 0; i < count; i++) {
      const note = await prisma.note.create({ data: { title: unique('lsn') } })
      if (gapMs > 0) await pause(gapMs)
      const read = await prisma.note.findUnique({ where: { id: note.id } })
      if (read?.title !== note.title) stale += 1
      if (events.at(-1)?.target === 'replica') onReplica += 1
    }
    return { stale, replicaShare: onReplica / count }
  })
}

describe('LSN mode: a read goes to a replica only if it has replayed the scope’s last write', () => {
  it('with 300 ms replica lag, 200 create-then-read pairs give 0 stale reads', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    for (const name of replicaNames) await cluster.setReplicaLag(name, 300)
    const result = await pairs(lsn.prisma, lsn.events, 200)
    console.info(`LSN mode, 300 ms lag: ${String(result.stale)} stale of 200, ${(result.replicaShare * 100).toFixed(0)}% on replicas`)
    expect(result.stale).toBe(0)
  })

  it('a read at once after each write (replicas replaying normally): 0 stale, >= 90% on replicas; with waitMs >= 98%', async (ctx) => {
    if (process.env.TEST_DRIVER === 'neon') ctx.skip(SHARES_ON_PG)
    await waitForReplication()
    const measure = async (routed: typeof lsn) => {
      // Steady state: after the health check's first round has identified each replica (reads after a write do
      // not rely on an entry before: a few ms after the client's first query).
      await routed.prisma.note.findFirst()
      await untilChecked(routed.prisma)
      const before = routed.prisma.$routerStats()
      const result = await pairs(routed.prisma, routed.events, 200)
      const after = routed.prisma.$routerStats()
      return { ...result, checks: after.replicaChecks - before.replicaChecks, positions: after.positionQueries - before.positionQueries }
    }
    const control = await measure(unsticky)
    const plain = await measure(lsn)
    const waited = await measure(waiting)
    const line = (name: string, r: typeof plain) =>
      `${name}: ${String(r.stale)} stale of 200, ${(r.replicaShare * 100).toFixed(1)}% on replicas, ${String(r.checks)} replica checks, ${String(r.positions)} primary position queries`
    console.info(['200 × (create, findUnique at once)', line('sticky: false', control), line('lsn', plain), line('lsn, waitMs 50', waited)].join('\n  '))
    expect(plain.stale).toBe(0)
    expect(waited.stale).toBe(0)
    expect(plain.replicaShare).toBeGreaterThanOrEqual(0.9)
    expect(waited.replicaShare).toBeGreaterThanOrEqual(0.98)
  })

  it('replicas replaying normally: write, then read 20 ms later — LSN mode serves the majority from replicas, window mode ~none; 0 stale', async (ctx) => {
    if (process.env.TEST_DRIVER === 'neon') ctx.skip(SHARES_ON_PG)
    await waitForReplication()
    const before = lsn.prisma.$routerStats()
    const fromLsn = await pairs(lsn.prisma, lsn.events, 50, 20)
    const after = lsn.prisma.$routerStats()
    const fromWindow = await pairs(win.prisma, win.events, 50, 20)
    console.info(
      `write then read 20 ms later, 50 pairs: LSN mode ${(fromLsn.replicaShare * 100).toFixed(0)}% on replicas (${String(fromLsn.stale)} stale), ` +
        `window mode (2 s) ${(fromWindow.replicaShare * 100).toFixed(0)}% on replicas (${String(fromWindow.stale)} stale); ` +
        `LSN extra round trips: ${String(after.positionQueries - before.positionQueries)} to the primary, ${String(after.replicaChecks - before.replicaChecks)} to replicas for 50 writes`,
    )
    expect(fromLsn.stale).toBe(0)
    expect(fromWindow.stale).toBe(0)
    expect(fromLsn.replicaShare).toBeGreaterThan(0.5)
    expect(after.positionQueries - before.positionQueries).toBeLessThanOrEqual(50)
  })

  it('one replica paused, the other live: reads after a write never go to the paused one', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    await cluster.pauseReplay('replica-1')
    const before = lsn.events.length
    const result = await pairs(lsn.prisma, lsn.events, 50, 20)
    const reads = lsn.events.slice(before).filter((e) => e.operation === 'findUnique')
    const by = (name?: string) => reads.filter((e) => e.replica === name).length
    console.info(`replica-1 paused: reads after writes: replica-1 ${String(by('replica-1'))}, replica-2 ${String(by('replica-2'))}, primary ${String(by(undefined))}`)
    expect(result.stale).toBe(0)
    expect(by('replica-1')).toBe(0)
    expect(by('replica-2')).toBeGreaterThan(0)
  })

  it('transactions: reads after an interactive or batch transaction see its writes (300 ms lag)', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    for (const name of replicaNames) await cluster.setReplicaLag(name, 300)
    let stale = 0
    await runInScope(async () => {
      for (let i = 0; i < 25; i++) {
        const title = unique('itx')
        await lsn.prisma.$transaction(async (tx) => tx.note.create({ data: { title } }))
        if (!(await lsn.prisma.note.findFirst({ where: { title } }))) stale += 1
        const batch = unique('batch')
        await lsn.prisma.$transaction([lsn.prisma.note.create({ data: { title: batch } })])
        if (!(await lsn.prisma.note.findFirst({ where: { title: batch } }))) stale += 1
      }
    })
    expect(stale).toBe(0)
  })

  it('concurrent writers share the primary position query', async () => {
    await waitForReplication()
    const before = lsn.prisma.$routerStats().positionQueries
    const scopes = 16
    await Promise.all(
      Array.from({ length: scopes }, () =>
        runInScope(async () => {
          const note = await lsn.prisma.note.create({ data: { title: unique('share') } })
          expect(await lsn.prisma.note.findUnique({ where: { id: note.id } })).not.toBeNull()
        }),
      ),
    )
    const used = lsn.prisma.$routerStats().positionQueries - before
    console.info(`${String(scopes)} concurrent write-then-read scopes: ${String(used)} primary position queries`)
    expect(used).toBeLessThan(scopes)
  })

  it('reads of a scope that has not written cost no extra round trip without monotonic reads; with them, one replica check per read after the first', async () => {
    const plain = routedClient({ sticky: { mode: 'lsn', monotonic: false } })
    const cost = async (prisma: typeof lsn.prisma) => {
      const before = prisma.$routerStats()
      await runInScope(async () => {
        for (let i = 0; i < 20; i++) await prisma.note.count()
      })
      const after = prisma.$routerStats()
      return [after.positionQueries - before.positionQueries, after.replicaChecks - before.replicaChecks]
    }
    await Promise.all([lsn.prisma.$connect(), plain.prisma.$connect()])
    await until('both replicas checked', () => [lsn, plain].every((c) => c.prisma.$replicaStatus().every((r) => r.replayLsn !== undefined)))
    expect(await cost(plain.prisma)).toEqual([0, 0])
    // The reads after the first are confirmed: their replica had not gone back in time since the first.
    const [positions, checks] = await cost(lsn.prisma)
    console.info(`20 reads of a monotonic scope that wrote nothing: ${String(positions)} position queries, ${String(checks)} replica checks`)
    expect(positions).toBe(0)
    expect(checks).toBeLessThanOrEqual(19)
    await plain.prisma.$disconnect()
  })
})

describe('consistency tokens: read-your-writes across requests and app instances', () => {
  it('a token taken in one scope and passed to a fresh scope of another instance gives 0 stale reads (300 ms lag)', async (ctx) => {
    const cluster = requireCluster(ctx)
    const other = routedClient({ sticky: { mode: 'lsn' } }) // another app instance: its own router and pools
    await waitForReplication()
    for (const name of replicaNames) await cluster.setReplicaLag(name, 300)
    let stale = 0
    let tokenLength = 0
    for (let i = 0; i < 50; i++) {
      const title = unique('token')
      const token = await runInScope(async () => {
        await lsn.prisma.note.create({ data: { title } })
        return await lsn.prisma.$consistencyToken()
      })
      tokenLength = Math.max(tokenLength, token?.length ?? 0)
      const seen = await runInScope(() => other.prisma.note.findFirst({ where: { title } }), { token })
      if (!seen) stale += 1
    }
    // The check can fail: without the token the other instance reads a lagging replica.
    const title = unique('no-token')
    await runInScope(() => lsn.prisma.note.create({ data: { title } }))
    const withoutToken = await runInScope(() => other.prisma.note.findFirst({ where: { title } }))
    console.info(`token handoff, 50 writes with 300 ms lag: ${String(stale)} stale (token ≤ ${String(tokenLength)} chars)`)
    expect(stale).toBe(0)
    expect(withoutToken).toBeNull()
    await other.prisma.$disconnect()
  })

  it('$consistencyToken() is undefined for a scope that wrote nothing', async () => {
    expect(await runInScope(() => lsn.prisma.$consistencyToken())).toBeUndefined()
  })

  it.each([
    ['empty', ''],
    ['truncated', '1.3000'],
    ['wrong version', '9.3000148.lz3k2a1'],
    ['huge', '1.' + 'f'.repeat(100_000) + '.lz3k2a1'],
    ['non-ASCII', '1.3000148.ł∂ß'],
    ['garbage', '\u0000\u0001; DROP TABLE "Note"'],
  ])(
    'a bad token (%s) is ignored: the scope works and its writes go to the primary; strict: every query of the scope rejects with a typed error, nothing is sent',
    async (_label, token) => {
      const { prisma, events } = routedClient()
      const title = unique('bad-token')
      const seen = await runInScope(
        async () => {
          await prisma.note.create({ data: { title } })
          return prisma.note.findFirst({ where: { title } })
        },
        { token },
      )
      expect(seen?.title).toBe(title)
      expect(events[0]).toMatchObject({ operation: 'create', target: 'primary', reason: 'write' })
      // runInScope itself does not throw: the scope's queries reject (a read, a write, a transaction), and none is sent.
      expect(runInScope(() => 'ran', { token, strict: true })).toBe('ran')
      const sent = events.length
      const strictTitle = unique('bad-token-strict')
      const errors = await runInScope(
        () =>
          Promise.all([
            prisma.note.findFirst({ where: { title } }).catch((e: unknown) => e),
            prisma.note.create({ data: { title: strictTitle } }).catch((e: unknown) => e),
            prisma.$transaction([prisma.note.count()]).catch((e: unknown) => e),
            prisma.$transaction((tx) => tx.note.count()).catch((e: unknown) => e),
          ]),
        { token, strict: true },
      )
      for (const error of errors) {
        expect(isReplicaRouterError(error)).toBe(true)
        expect((error as Error).name).toBe('InvalidConsistencyTokenError')
        expect((error as Error).message).not.toContain(token.slice(0, 20) || '\u0000')
      }
      expect(events.slice(sent)).toEqual([])
      expect(await prisma.note.count({ where: { title: strictTitle } })).toBe(0)
      await prisma.$disconnect()
    },
  )

  it('strict and a malformed token: a read that an extension under the router puts in a batch transaction (row-level security) rejects before it is routed; outside the scope it runs', async () => {
    const events: RouteEvent[] = []
    // The `minimal` error format (the fast path's) and only query components under the router: its fast path runs
    // their callbacks, and the query they put in a batch goes to the primary (src/prisma/route-query.ts
    // fastPrimaryOnly).
    const minimal = (url: string) => new PrismaClient({ adapter: adapterFor(url), errorFormat: 'minimal' })
    const base = minimal(topology.primaryUrl)
    const replicas = topology.replicas.map((r) => ({ client: minimal(r.url), name: r.name }))
    const tenant = base.$extends({
      query: {
        note: {
          async findFirst({ args, query }) {
            const [, row] = await base.$transaction([base.$executeRaw`SELECT set_config('app.tenant', ${'acme'}, TRUE)`, query(args)])
            return row
          },
        },
      },
    })
    const prisma = tenant.$extends(readReplicas({ replicas, onRoute: (e) => events.push(e) }))
    const title = unique('strict-batched')
    await prisma.note.create({ data: { title } })
    expect(await prisma.note.findFirst({ where: { title } })).toMatchObject({ title })
    expect(events.at(-1)).toMatchObject({ operation: 'findFirst', target: 'primary', reason: 'transaction' })
    const sent = events.length
    const error = await runInScope(() => prisma.note.findFirst({ where: { title } }).catch((e: unknown) => e), { token: '1.3000', strict: true })
    expect((error as Error).name).toBe('InvalidConsistencyTokenError')
    expect(events.slice(sent)).toEqual([])
    await prisma.$disconnect()
  })

  it('a forged token far ahead of the primary keeps that scope on the primary, never anything worse', async () => {
    const { prisma, events } = routedClient({ sticky: { mode: 'lsn' } })
    const found = await runInScope(() => prisma.note.count(), { token: '1.ffffffffffffffff.0' })
    expect(found).toBeTypeOf('number')
    expect(events.at(-1)).toMatchObject({ target: 'primary', reason: 'sticky', sticky: 'lsn' })
    await prisma.$disconnect()
  })
})

describe('transactions: reads after COMMIT see the transaction, whatever ran while it was open (200 ms apply delay)', () => {
  /** Commit records wait 200 ms on both replicas; other WAL records replay at once (replay positions move). */
  async function delayCommits(ctx: Parameters<typeof requireCluster>[0]) {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    for (const name of replicaNames) await cluster.setReplicaLag(name, 200)
  }

  it('a read of the same scope while its interactive transaction is open, then a read after COMMIT: 0 stale of 20', async (ctx) => {
    await delayCommits(ctx)
    let stale = 0
    let onReplica = 0
    await runInScope(async () => {
      for (let i = 0; i < 20; i++) {
        const title = unique('tx-open-read')
        await lsn.prisma.$transaction(async (tx) => {
          await tx.note.create({ data: { title } })
          await lsn.prisma.note.count() // outside the transaction, same scope, before COMMIT
        })
        const before = lsn.events.length
        if (!(await lsn.prisma.note.findFirst({ where: { title } }))) stale += 1
        if (lsn.events.slice(before).some((e) => e.target === 'replica')) onReplica += 1
      }
    })
    console.info(`read while the transaction is open, then after COMMIT: ${String(stale)} stale of 20 (${String(onReplica)} on replicas)`)
    expect(stale).toBe(0)
  })

  it('the same outside runInScope (the client-wide scope), the read coming from another request: 0 stale of 20', async (ctx) => {
    await delayCommits(ctx)
    let stale = 0
    /** Another request's read, from a callback of its own (it shares the client-wide scope). */
    const otherRequest = () =>
      new Promise((resolve, reject) => {
        setImmediate(() => {
          lsn.prisma.note.findMany({ take: 1 }).then(resolve, reject)
        })
      })
    for (let i = 0; i < 20; i++) {
      const title = unique('tx-other-request')
      await lsn.prisma.$transaction(async (tx) => {
        await tx.note.create({ data: { title } })
        await otherRequest()
      })
      if (!(await lsn.prisma.note.findFirst({ where: { title } }))) stale += 1
    }
    expect(stale).toBe(0)
  })

  it('$primary().$transaction(fn): reads and tokens after it see its writes: 0 stale of 20', async (ctx) => {
    await delayCommits(ctx)
    const other = routedClient({ sticky: { mode: 'lsn' } })
    let stale = 0
    let staleViaToken = 0
    for (let i = 0; i < 20; i++) {
      const title = unique('primary-tx')
      const token = await runInScope(async () => {
        await lsn.prisma.$primary().$transaction(async (tx) => {
          await tx.note.create({ data: { title } })
          // The health check's or another scope's position query may run between the write and COMMIT.
          await lsn.prisma.$consistencyToken()
        })
        if (!(await lsn.prisma.note.findFirst({ where: { title } }))) stale += 1
        return await lsn.prisma.$consistencyToken()
      })
      if (!(await runInScope(() => other.prisma.note.findFirst({ where: { title } }), { token }))) staleViaToken += 1
    }
    await other.prisma.$disconnect()
    console.info(`$primary().$transaction: ${String(stale)} stale reads, ${String(staleViaToken)} stale via token, of 20`)
    expect([stale, staleViaToken]).toEqual([0, 0])
  })

  it('a batch $transaction of $primary() writes: 0 stale of 20', async (ctx) => {
    await delayCommits(ctx)
    let stale = 0
    await runInScope(async () => {
      for (let i = 0; i < 20; i++) {
        const title = unique('primary-batch')
        await lsn.prisma.$primary().$transaction([lsn.prisma.$primary().note.create({ data: { title } })])
        if (!(await lsn.prisma.note.findFirst({ where: { title } }))) stale += 1
      }
    })
    expect(stale).toBe(0)
  })
})

describe('synchronous_commit = off: a commit returns before its WAL is written', () => {
  /** Sets the primary's synchronous_commit and wal_writer_delay (a long delay widens the window). */
  async function primarySettings(cluster: NonNullable<typeof import('./support/db.ts').cluster>, off: boolean) {
    for (const sql of off
      ? ["ALTER SYSTEM SET synchronous_commit = 'off'", "ALTER SYSTEM SET wal_writer_delay = '500ms'", 'ALTER SYSTEM SET wal_writer_flush_after = 0']
      : ['ALTER SYSTEM RESET synchronous_commit', 'ALTER SYSTEM RESET wal_writer_delay', 'ALTER SYSTEM RESET wal_writer_flush_after']) {
      await cluster.query('primary', sql)
    }
    await cluster.query('primary', 'SELECT pg_reload_conf()')
    await until('the primary to apply synchronous_commit', async () => {
      const [row] = await cluster.query<{ s: string }>('primary', "SELECT current_setting('synchronous_commit') AS s")
      return row?.s === (off ? 'off' : 'on')
    })
  }

  it('set on the primary: 60 create-then-read pairs give 0 stale reads', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    await primarySettings(cluster, true)
    try {
      const result = await pairs(lsn.prisma, lsn.events, 60)
      console.info(`synchronous_commit = off on the primary: ${String(result.stale)} stale of 60, ${(result.replicaShare * 100).toFixed(0)}% on replicas`)
      expect(result.stale).toBe(0)
    } finally {
      await primarySettings(cluster, false)
    }
  })

  it('SET LOCAL in a transaction: 30 transactions then reads give 0 stale reads', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    await cluster.query('primary', "ALTER SYSTEM SET wal_writer_delay = '500ms'")
    await cluster.query('primary', 'SELECT pg_reload_conf()')
    let stale = 0
    try {
      await runInScope(async () => {
        for (let i = 0; i < 30; i++) {
          const title = unique('async-commit')
          await lsn.prisma.$transaction(async (tx) => {
            await tx.$executeRaw`SET LOCAL synchronous_commit = off`
            await tx.note.create({ data: { title } })
          })
          if (!(await lsn.prisma.note.findFirst({ where: { title } }))) stale += 1
        }
      })
    } finally {
      await primarySettings(cluster, false)
    }
    expect(stale).toBe(0)
  })
})

describe('a replica entry that is several servers (a pooler or load balancer in front of standbys)', () => {
  /**
   * An entry over replica-2 (live) and replica-1 (replay paused), connections spread round-robin: a lone probe
   * (the pool's most recent connection) tends to see the live one, reads under load both.
   */
  async function pooledSetup(ctx: Parameters<typeof requireCluster>[0], pooled?: boolean) {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    await cluster.pauseReplay('replica-1')
    const entry = await PooledEntry.start(['replica-2', 'replica-1'].map((name) => ({ host: '127.0.0.1', port: cluster.replica(name).port })))
    const events: RouteEvent[] = []
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    const entryClient = newClient(entry.url(cluster.info.database))
    const prisma = newClient(topology.primaryUrl).$extends(
      readReplicas({
        replicas: [pooled === undefined ? { client: entryClient, name: 'reader' } : { client: entryClient, name: 'reader', pooled }],
        onRoute: (e) => events.push(e),
      }),
    )
    const close = async () => {
      process.off('warning', onWarning)
      await prisma.$disconnect()
      await entry.stop()
    }
    return { prisma, events, warnings, close, entry }
  }

  it('detected: read-your-writes reads never go through it (0 stale of 40), plain reads still do, one warning', async (ctx) => {
    const { prisma, events, warnings, close } = await pooledSetup(ctx)
    try {
      await prisma.$connect()
      await until('the first health check', () => prisma.$replicaStatus()[0]?.replayLsn !== undefined)
      let stale = 0
      await runInScope(async () => {
        for (let i = 0; i < 40; i++) {
          const title = unique('pooled')
          await prisma.note.create({ data: { title } })
          // Many connections at once, as under load: the pool spreads them over both servers.
          const reads = await Promise.all(Array.from({ length: 4 }, () => prisma.note.findFirst({ where: { title } })))
          stale += reads.filter((r) => r === null).length
        }
      })
      const afterWrites = events.filter((e) => e.operation === 'findFirst')
      await runInScope(() => prisma.note.count()) // a fresh scope that wrote nothing: plain read
      console.info(
        `pooled entry (one paused standby): ${String(stale)} stale of 160; reads after writes on it: ${String(afterWrites.filter((e) => e.target === 'replica').length)}`,
      )
      expect(stale).toBe(0)
      expect(prisma.$replicaStatus()[0]?.pooled).toBe(true)
      expect(afterWrites.every((e) => e.target === 'primary')).toBe(true)
      expect(events.at(-1)).toMatchObject({ target: 'replica', replica: 'reader', reason: 'read' })
      expect(warnings.filter((w) => w.includes('`reader` is served by more than one server'))).toHaveLength(1)
    } finally {
      await close()
    }
  })

  it('configured pooled: true: no warning, the same routing from the first read', async (ctx) => {
    const { prisma, events, warnings, close } = await pooledSetup(ctx, true)
    try {
      let stale = 0
      await runInScope(async () => {
        for (let i = 0; i < 20; i++) {
          const title = unique('pooled-conf')
          await prisma.note.create({ data: { title } })
          if (!(await prisma.note.findFirst({ where: { title } }))) stale += 1
        }
      })
      expect(stale).toBe(0)
      expect(events.filter((e) => e.operation === 'findFirst').every((e) => e.target === 'primary')).toBe(true)
      expect(prisma.$replicaStatus()[0]?.pooled).toBe(true)
      expect(warnings.filter((w) => w.includes('served by more than one server'))).toEqual([])
    } finally {
      await close()
    }
  })
})

describe('monotonic reads: a scope never reads an older version than it read before', () => {
  /** A note at version 1 on replica-1 (replay paused) and version 2 everywhere else. */
  async function splitVersions(ctx: Parameters<typeof requireCluster>[0]) {
    const cluster = requireCluster(ctx)
    const title = unique('mono')
    const note = await lsn.base.note.create({ data: { title, content: 'v1' } })
    await waitForReplication()
    await cluster.pauseReplay('replica-1')
    await lsn.base.note.update({ where: { id: note.id }, data: { content: 'v2' } })
    await cluster.waitForReplication({ replicas: ['replica-2'] })
    await until('both replicas in rotation', () => lsn.prisma.$replicaStatus().every((r) => r.state === 'up'))
    return { cluster, id: note.id }
  }

  /** Versions a list of reads returned, and whether they ever went back. */
  const wentBack = (versions: string[]) => versions.some((v, i) => i > 0 && v < (versions[i - 1] ?? ''))

  it('reads move between a lagging and a live replica, and the one the scope read from dies: never back to v1', async (ctx) => {
    const { cluster, id } = await splitVersions(ctx)
    const versions: string[] = []
    await runInScope(async () => {
      const read = async () => versions.push((await lsn.prisma.note.findUnique({ where: { id } }))?.content ?? 'missing')
      for (let i = 0; i < 10; i++) await read()
      const home = lsn.events.findLast((e) => e.operation === 'findUnique' && e.target === 'replica')?.replica
      if (home) await cluster.stopReplica(home)
      for (let i = 0; i < 10; i++) await read()
    })
    console.info(`monotonic reads, versions read: ${versions.join(' ')}`)
    expect(wentBack(versions)).toBe(false)
    expect(versions).not.toContain('missing')
  })

  it('a token from a scope that only read carries what it read to the next scope on another instance', async (ctx) => {
    const { id } = await splitVersions(ctx)
    const other = routedClient({ sticky: { mode: 'lsn' } })
    let backwards = 0
    let handedV2 = 0
    for (let i = 0; i < 10; i++) {
      // The first scope reads (where the policy sends it: the paused or the live replica), then hands its token on.
      const [seen, token] = await runInScope(async () => {
        const note = await lsn.prisma.note.findUnique({ where: { id } })
        return [note?.content, await lsn.prisma.$consistencyToken()] as const
      })
      expect(token).toBeTypeOf('string')
      if (seen === 'v2') handedV2 += 1
      const next = await runInScope(() => other.prisma.note.findUnique({ where: { id } }), { token })
      if ((next?.content ?? '') < (seen ?? '')) backwards += 1
    }
    console.info(`token from read-only scopes: ${String(handedV2)} of 10 had read v2; ${String(backwards)} next scopes went back`)
    expect(handedV2).toBeGreaterThan(0)
    await other.prisma.$disconnect()
    expect(backwards).toBe(0)
  })

  it('sticky: { monotonic: false } gives read-your-writes only (the same reads may go back)', async (ctx) => {
    const { id } = await splitVersions(ctx)
    const plain = routedClient({ sticky: { mode: 'lsn', monotonic: false }, policy: 'round-robin' })
    const versions = await runInScope(async () => {
      const seen: string[] = []
      for (let i = 0; i < 6; i++) seen.push((await plain.prisma.note.findUnique({ where: { id } }))?.content ?? 'missing')
      return seen
    })
    await plain.prisma.$disconnect()
    // Round-robin alternates between the paused and the live replica: the check can fail, and does.
    expect(wentBack(versions)).toBe(true)
  })
})

describe('a replica that goes back in time between two health checks (restart, crash), with no failed query', () => {
  it.for([
    ['restarted (new start time)', (c: NonNullable<typeof import('./support/db.ts').cluster>, name: string) => c.stopReplica(name).then(() => c.startReplica(name))],
    ['crashed and reinitialised (same start time)', (c: NonNullable<typeof import('./support/db.ts').cluster>, name: string) => c.crashReplica(name)],
  ] as const)('%s: the scope’s next read never returns what it wrote over (3 of 3)', async ([label, goBack], ctx) => {
    const cluster = requireCluster(ctx)
    // One health check at the start only: nothing but the reads themselves can notice what happened.
    const { prisma, events } = routedClient({ sticky: { mode: 'lsn' }, health: { intervalMs: 600_000 } })
    let stale = 0
    try {
      await prisma.$connect()
      for (let i = 0; i < 3; i++) {
        const note = await prisma.note.create({ data: { title: unique('back'), content: 'v1' } })
        const seen = await runInScope(async () => {
          await prisma.note.update({ where: { id: note.id }, data: { content: 'v2' } })
          await waitForReplication()
          const first = await prisma.note.findUnique({ where: { id: note.id } })
          const home = events.findLast((e) => e.operation === 'findUnique' && e.target === 'replica')?.replica
          if (first?.content !== 'v2' || home === undefined) return first?.content ?? 'missing'
          // Commits from now on apply 8 s late on the home; it goes back below the scope's write and re-applies it.
          await cluster.setReplicaLag(home, 8000)
          await goBack(cluster, home)
          return (await prisma.note.findUnique({ where: { id: note.id } }))?.content ?? 'missing'
        })
        if (seen !== 'v2') stale += 1
        await healReplicas()
      }
    } finally {
      await prisma.$disconnect()
    }
    console.info(`replica ${label}: ${String(stale)} stale of 3; unconfirmed reads redone on the primary: ${String(prisma.$routerStats().unconfirmed)}`)
    expect(stale).toBe(0)
  })
})
