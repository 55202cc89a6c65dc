/**
 * `raw: 'classify'` on the real cluster: raw reads whose SQL PostgreSQL's parser proves a plain read run on
 * replicas (counted by the servers), everything else on the primary, and no write ever reaches a replica
 * (SQLSTATE 25006 in the replicas' logs: 0). Read-your-writes and failover apply as for model reads. The
 * classifier's verdicts over a wider table of statements: test/raw-sql/classify-sql.test.ts.
 */
import { makeTypedQueryFactory } from '@prisma/client/runtime/client'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { runInScope } from '../../src/index.ts'
import { healReplicas, replicaNames, requireCluster, routedClient, unique, until, waitForReplication } from '../support/db.ts'

afterEach(healReplicas)

const routed = routedClient({ raw: 'classify' })
const byDefault = routedClient()
afterAll(async () => {
  await Promise.all([routed.prisma.$disconnect(), byDefault.prisma.$disconnect()])
})
const { prisma, events } = routed

/** Statements that run on the test database, with where they must go. */
const STATEMENTS: readonly (readonly [sql: string, target: 'replica' | 'primary', values?: readonly unknown[]])[] = [
  ['SELECT count(*)::int AS n FROM "Note"', 'replica'],
  ['SELECT id, title FROM "Note" ORDER BY id DESC LIMIT 3', 'replica'],
  ['SELECT n.id FROM "Note" n JOIN "Note" m ON m.id = n.id WHERE n.id > $1 LIMIT 2', 'replica', [0]],
  ['WITH recent AS (SELECT id FROM "Note" ORDER BY id DESC LIMIT 5) SELECT count(*)::int AS n FROM recent', 'replica'],
  ['VALUES (1), (2)', 'replica'],
  ['TABLE "AuditLog" LIMIT 1', 'replica'],
  ['SELECT now() AS t, lower($1::text) AS l, coalesce(NULL, 1) AS c', 'replica', ['X']],
  ["SELECT jsonb_build_object('a', 1) AS j, CURRENT_TIMESTAMP AS t", 'replica'],
  ['SELECT g FROM generate_series(1, 3) AS g', 'replica'],
  ['SELECT u.email, (SELECT count(*)::int FROM "Post" p WHERE p."authorId" = u.id) AS posts FROM "User" u LIMIT 2', 'replica'],
  ['WITH d AS (DELETE FROM "Note" WHERE false RETURNING id) SELECT count(*)::int AS n FROM d', 'primary'],
  ['WITH i AS (INSERT INTO "AuditLog" (action, actor) VALUES ($1, $2) RETURNING id) SELECT count(*)::int AS n FROM i', 'primary', ['raw-classify', 'test']],
  [`SELECT nextval(pg_get_serial_sequence('"Note"', 'id'))::text AS v`, 'primary'],
  ['SELECT pg_advisory_lock(4242)::text AS l, pg_advisory_unlock(4242) AS u', 'primary'],
  ["SELECT set_config('app.raw_classify', '1', false) AS s", 'primary'],
  ['SELECT id FROM "Note" ORDER BY id LIMIT 1 FOR UPDATE', 'primary'],
  ['SELECT id FROM "Note" WHERE id IN (SELECT id FROM "Note" ORDER BY id LIMIT 1 FOR SHARE)', 'primary'],
  ['SELECT txid_current()::text AS x', 'primary'],
  ["SELECT pg_notify('raw_classify', 'x')::text AS n", 'primary'],
  ['SELECT * INTO TEMP raw_classify_copy FROM "Note" LIMIT 1', 'primary'],
  ['EXPLAIN SELECT 1', 'primary'],
]

const count25006 = (log: string) => log.split('\n').filter((line) => line.includes('sqlstate=25006')).length

describe("raw: 'classify' — raw reads on replicas when the parser proves them plain reads", () => {
  it('each statement goes where its verdict says; no write reaches a replica (25006 in the replica logs: 0)', async (ctx) => {
    const c = requireCluster(ctx)
    await waitForReplication()
    const logsBefore = await Promise.all(replicaNames.map((n) => c.serverLog(n)))
    const wrong: string[] = []
    for (const [sql, target, values = []] of STATEMENTS) {
      const from = events.length
      await prisma.$queryRawUnsafe(sql, ...values)
      const event = events.slice(from).find((e) => e.operation === '$queryRawUnsafe')
      if (event?.target !== target) wrong.push(`${sql} -> ${String(event?.target)}`)
    }
    // The same through the tagged template and TypedSQL.
    const from = events.length
    await prisma.$queryRaw`SELECT count(*)::int AS n FROM "Note" WHERE id > ${0}`
    await prisma.$queryRaw`SELECT nextval(pg_get_serial_sequence('"Note"', 'id'))::text AS v`
    await prisma.$queryRawTyped(makeTypedQueryFactory('SELECT count(*)::int AS n FROM "Note" WHERE id > $1')(0) as never)
    await prisma.$queryRawTyped(makeTypedQueryFactory('SELECT id FROM "Note" ORDER BY id LIMIT 1 FOR UPDATE')() as never)
    await prisma.$executeRawUnsafe('SELECT 1')
    const targets = events.slice(from).map((e) => `${e.operation} ${e.target}`)
    const logsAfter = await Promise.all(replicaNames.map((n) => c.serverLog(n)))
    const refused = logsAfter.map((log, i) => count25006(log.slice(logsBefore[i]?.length ?? 0)))
    console.info(`${String(STATEMENTS.length)} raw statements routed by verdict; wrong targets: ${String(wrong.length)}; 25006 in the replica logs: ${refused.join(', ')}`)
    expect(wrong).toEqual([])
    expect(targets).toEqual(['$queryRaw replica', '$queryRaw primary', '$queryRawTyped replica', '$queryRawTyped primary', '$executeRawUnsafe primary'])
    expect(refused).toEqual(replicaNames.map(() => 0))
    // Control: the writes in disguise sent to a replica on purpose ($replica()) are refused there and logged,
    // so the count above can tell.
    await prisma
      .$replica(replicaNames[0])
      .$queryRawUnsafe('SELECT set_config($1, $2, false) AS s', 'app.x', '1')
      .catch(() => undefined)
    await expect(prisma.$replica(replicaNames[0]).$queryRawUnsafe(`SELECT nextval(pg_get_serial_sequence('"Note"', 'id'))`)).rejects.toThrow(/read-only/)
    const control = count25006((await c.serverLog(replicaNames[0] ?? '')).slice(logsAfter[0]?.length ?? 0))
    expect(control).toBeGreaterThan(0)
  })

  it('raw reads are counted on the replicas by the servers (pg_stat_statements); the default sends them to the primary', async (ctx) => {
    const c = requireCluster(ctx)
    const calls = async () => {
      const counts: Record<string, number> = {}
      for (const name of ['primary', ...replicaNames]) {
        const rows = await c.query<{ calls: string }>(name, `SELECT coalesce(sum(calls), 0)::text AS calls FROM pg_stat_statements WHERE query LIKE '%AS raw_probe%'`)
        counts[name] = Number(rows[0]?.calls ?? 0)
      }
      return counts
    }
    const before = await calls()
    // A scope of its own (a request that has not written): the earlier tests' raw writes are not its concern.
    await runInScope(async () => {
      for (let i = 0; i < 20; i++) await prisma.$queryRaw`SELECT count(*)::int AS raw_probe FROM "AuditLog" WHERE id > ${i}`
    })
    const middle = await calls()
    for (let i = 0; i < 10; i++) await byDefault.prisma.$queryRaw`SELECT count(*)::int AS raw_probe FROM "AuditLog" WHERE id > ${i}`
    const after = await calls()
    const delta = (a: Record<string, number>, b: Record<string, number>, name: string) => (a[name] ?? 0) - (b[name] ?? 0)
    const onReplicas = replicaNames.reduce((sum, name) => sum + delta(middle, before, name), 0)
    console.info(
      `20 classified raw reads: primary ${String(delta(middle, before, 'primary'))}, replicas ${String(onReplicas)}; 10 with raw: 'primary': primary ${String(delta(after, middle, 'primary'))}`,
    )
    expect(onReplicas).toBe(20)
    expect(delta(middle, before, 'primary')).toBe(0)
    expect(delta(after, middle, 'primary')).toBe(10)
  })

  it('read-your-writes: a raw read right after a write sees it (replicas live, and lagging 300 ms)', async (ctx) => {
    const c = requireCluster(ctx)
    await waitForReplication()
    const pairs = async (count: number) => {
      let stale = 0
      const from = events.length
      await runInScope(async () => {
        for (let i = 0; i < count; i++) {
          const note = await prisma.note.create({ data: { title: unique('raw-ryw') } })
          const rows = await prisma.$queryRaw<{ title: string }[]>`SELECT title FROM "Note" WHERE id = ${note.id}`
          if (rows[0]?.title !== note.title) stale += 1
        }
      })
      const onReplicas = events.slice(from).filter((e) => e.operation === '$queryRaw' && e.target === 'replica').length
      return { stale, onReplicas }
    }
    const live = await pairs(100)
    for (const name of replicaNames) await c.setReplicaLag(name, 300)
    const lagging = await pairs(20)
    console.info(
      `raw read after write: live ${String(live.stale)} stale of 100 (${String(live.onReplicas)} on replicas); 300 ms lag ${String(lagging.stale)} stale of 20 (${String(lagging.onReplicas)} on replicas)`,
    )
    expect(live.stale).toBe(0)
    expect(lagging.stale).toBe(0)
    expect(live.onReplicas).toBeGreaterThan(50)
  })

  it('failover: a replica killed under raw reads fails none of them', async (ctx) => {
    const c = requireCluster(ctx)
    await waitForReplication()
    const [killed] = replicaNames as [string]
    let failed = 0
    let done = 0
    const readers = Array.from({ length: 4 }, async (_, reader) => {
      for (let i = 0; i < 40; i++) {
        await prisma.$queryRaw`SELECT count(*)::int AS n FROM "Note" WHERE id > ${i}`.then(
          () => (done += 1),
          () => (failed += 1),
        )
        if (i === 10 && reader === 0) await c.stopReplica(killed) // one reader kills it, the others keep reading
      }
    })
    await Promise.all(readers)
    console.info(`raw reads with ${killed} killed: ${String(done)} ok, ${String(failed)} failed`)
    expect(failed).toBe(0)
    expect(done).toBe(160)
  })

  it('a classified raw read the reader sends to the primary is tracked as a write (a write the text does not show stays visible)', async (ctx) => {
    const c = requireCluster(ctx)
    await c.query(
      'primary',
      `CREATE OR REPLACE FUNCTION raw_classify_hidden(n "Note") RETURNS int LANGUAGE sql AS $$ INSERT INTO "AuditLog" (action, actor) VALUES ('raw-hidden', 'test') RETURNING id $$`,
    )
    await waitForReplication()
    const [watcher] = replicaNames as [string]
    const note = await prisma.$primary().note.create({ data: { title: unique('raw-hidden') } })
    await waitForReplication()
    for (const name of replicaNames) await c.setReplicaLag(name, 1000)
    const before = await prisma.$primary().auditLog.count({ where: { action: 'raw-hidden' } })
    let seen = -1
    // Without monotonic reads, only read-your-writes stands between the hidden write and a replica.
    const unwatched = routedClient({ raw: 'classify', sticky: { mode: 'lsn', monotonic: false } })
    await runInScope(async () => {
      // W1: the scope's write; no replica has it yet, so the raw read below goes to the primary (sticky).
      const w1 = await unwatched.prisma.auditLog.create({ data: { action: 'raw-w1', actor: 'test' } })
      const w1At = performance.now()
      await until('W1 is 400 ms old', () => performance.now() - w1At >= 400) // replicas apply W1 400 ms before what follows
      // `n.raw_classify_hidden` reads like a column: the parser cannot tell that it calls a function that inserts.
      await unwatched.prisma.$queryRawUnsafe('SELECT n.raw_classify_hidden AS id FROM "Note" n WHERE n.id = $1', note.id)
      expect(unwatched.events.find((e) => e.operation === '$queryRawUnsafe')?.target).toBe('primary')
      await until('a replica has replayed W1', async () => (await c.query(watcher, 'SELECT 1 FROM "AuditLog" WHERE id = $1', [w1.id])).length > 0)
      seen = await unwatched.prisma.auditLog.count({ where: { action: 'raw-hidden' } })
    })
    await unwatched.prisma.$disconnect()
    expect(seen).toBe(before + 1)
  })

  it('window mode: raw reads and read-only transactions on the primary do not renew the window (the scope returns to replicas)', async () => {
    const windowed = routedClient({ raw: 'classify', sticky: { mode: 'window', windowMs: 300 } })
    try {
      await runInScope(async () => {
        await windowed.prisma.auditLog.create({ data: { action: 'raw-window', actor: 'test' } })
        const last = () => windowed.events.at(-1)?.target
        await until(
          'a raw read on a replica once the window has passed',
          async () => {
            await windowed.prisma.$queryRaw`SELECT count(*)::int AS n FROM "Note"`
            return last() === 'replica'
          },
          5_000,
        )
        await until(
          'a read-only transaction on a replica once the window has passed',
          async () => {
            await windowed.prisma.$replica().$transaction(async (tx) => await tx.note.count())
            return last() === 'replica'
          },
          5_000,
        )
      })
    } finally {
      await windowed.prisma.$disconnect()
    }
  })

  it('a statement the text cannot show is a write (a view calling nextval): refused by the replica, done on the primary, then sent there', async (ctx) => {
    const c = requireCluster(ctx)
    await c.query('primary', 'CREATE SEQUENCE IF NOT EXISTS raw_classify_seq')
    await c.query('primary', "CREATE OR REPLACE VIEW raw_classify_view AS SELECT nextval('raw_classify_seq') AS v")
    await waitForReplication()
    const from = events.length
    const first = await prisma.$queryRawUnsafe<{ v: bigint }[]>('SELECT v FROM raw_classify_view')
    const second = await prisma.$queryRawUnsafe<{ v: bigint }[]>('SELECT v FROM raw_classify_view')
    expect(Number(second[0]?.v)).toBe(Number(first[0]?.v) + 1)
    const targets = events.slice(from).map((e) => `${e.target}${e.reason === 'raw' ? ' (raw)' : ''}`)
    expect(targets).toEqual(['replica', 'primary (raw)', 'primary (raw)'])
  })
})

describe('an error a healthy server reports is the query’s own, whatever its SQLSTATE class', () => {
  const strict = routedClient({ raw: 'classify', fallback: 'error' })
  afterAll(async () => {
    await strict.prisma.$disconnect()
  })

  // SQLSTATE 08P01 (protocol violation) with severity ERROR: the server answers and the session goes on.
  // A NUL ends the text for the parser (a parse error): that one goes to the primary, where it fails the same way.
  const violations: Record<string, [sql: string, values: unknown[], route: string]> = {
    'more bind parameters than the protocol carries': ['SELECT $1::int AS a', Array.from({ length: 70_000 }, (_, i) => i), 'replica read'],
    'a NUL in the SQL text': ["SELECT 'a\u0000b' AS x", [], 'primary raw'],
  }
  for (const [name, [sql, values, route]] of Object.entries(violations)) {
    it(`08P01, ${name}: runs once; the caller gets the plain client's error; no replica leaves rotation`, async () => {
      const plain = routedClient({ raw: 'primary' }).base
      const expected = await plain.$queryRawUnsafe(sql, ...values).then(
        () => undefined,
        (error: unknown) => error as { code?: unknown; message?: unknown },
      )
      await plain.$disconnect()
      expect(expected?.code).toBe('P2010')
      for (const client of [strict, routed]) {
        const from = client.events.length
        const error = await client.prisma.$queryRawUnsafe(sql, ...values).then(
          () => undefined,
          (e: unknown) => e as { code?: unknown; message?: unknown; constructor: unknown },
        )
        expect(error?.constructor).toBe((Object.getPrototypeOf(expected) as { constructor: unknown }).constructor)
        expect({ code: error?.code, message: error?.message }).toEqual({ code: expected?.code, message: expected?.message })
        const routes = client.events.slice(from).map((e) => `${e.target} ${e.reason}`)
        expect(routes).toEqual([route])
        expect(client.prisma.$replicaStatus().map((r) => r.state)).toEqual(replicaNames.map(() => 'up'))
        expect(client.prisma.$routerStats().retries).toBe(0)
        // Unrelated reads stay on replicas (with fallback: 'error', they would throw if none were in rotation).
        const next = client.events.length
        await client.prisma.note.count()
        expect(client.events.slice(next).map((e) => e.target)).toEqual(['replica'])
      }
    })
  }
})
