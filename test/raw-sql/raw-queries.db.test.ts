/**
 * `raw: 'classify'` on the real cluster: raw reads whose SQL PostgreSQL's parser proves a plain read run on
 * replicas (counted by the servers), everything else on the primary, and no write ever reaches a replica
 * (SQLSTATE 25006 in the replicas' logs: 0). Read-your-writes and failover apply as for model reads. The
 * classifier's verdicts over a wider table of statements: test/raw-sql/classify-sql.test.ts.
 */
import { PrismaPg } from '@prisma/adapter-pg'
import { makeTypedQueryFactory } from '@prisma/client/runtime/client'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { PrismaClient } from '../../generated/prisma/client.ts'
import { isReadOnlyTransactionError, readReplicas, runInScope, type RouteEvent } from '../../src/index.ts'
import { CATALOG_MAX_AGE_MS, SESSION_STATE_WARNING } from '../../src/raw-sql/raw-trust.ts'
import { healReplicas, newClient, replicaNames, requireCluster, routedClient, topology, unique, until, waitForReplication } from '../support/db.ts'

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
  ['SELECT id FROM "Note" ORDER BY id LIMIT 1 FOR UPDATE', 'primary'],
  ['SELECT id FROM "Note" WHERE id IN (SELECT id FROM "Note" ORDER BY id LIMIT 1 FOR SHARE)', 'primary'],
  ['SELECT txid_current()::text AS x', 'primary'],
  ["SELECT pg_notify('raw_classify', 'x')::text AS n", 'primary'],
  ['EXPLAIN SELECT 1', 'primary'],
  // Last: these change the session they run in on the primary, so raw reads stay there afterwards (see below).
  ["SELECT set_config('app.raw_classify', '1', false) AS s", 'primary'],
  ['SELECT * INTO TEMP raw_classify_copy FROM "Note" LIMIT 1', 'primary'],
]

const count25006 = (log: string) => log.split('\n').filter((line) => line.includes('sqlstate=25006')).length

describe("raw: 'classify' — raw reads on replicas when the parser proves them plain reads", () => {
  it('each statement goes where its verdict says; no write reaches a replica (25006 in the replica logs: 0)', async (ctx) => {
    const c = requireCluster(ctx)
    await waitForReplication()
    const logsBefore = await Promise.all(replicaNames.map((n) => c.serverLog(n)))
    const wrong: string[] = []
    // Statements that leave session state on the primary run on a client of their own (they keep its raw reads there).
    const sessions = routedClient({ raw: 'classify' })
    for (const [sql, target, values = []] of STATEMENTS) {
      const client = /set_config|INTO TEMP/.test(sql) ? sessions : routed
      const from = client.events.length
      await client.prisma.$queryRawUnsafe(sql, ...values)
      const event = client.events.slice(from).find((e) => e.operation === '$queryRawUnsafe')
      if (event?.target !== target) wrong.push(`${sql} -> ${String(event?.target)}`)
    }
    await sessions.prisma.$disconnect()
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

  it('a statement the text cannot show is a write (a view calling nextval): never run by a replica; the same answers as a plain client', async (ctx) => {
    const c = requireCluster(ctx)
    await c.query('primary', 'CREATE SEQUENCE IF NOT EXISTS raw_classify_seq')
    // Created by another process (the router does not see it): the catalog knows of it at its next read (at most
    // CATALOG_MAX_AGE_MS later); until then a replica refuses it (25006, demoted: the primary from then on).
    await prisma.$queryRawUnsafe('SELECT 1 AS fresh') // the catalog's facts, read now
    await c.query('primary', "CREATE OR REPLACE VIEW raw_classify_view AS SELECT nextval('raw_classify_seq') AS v")
    await waitForReplication()
    const from = events.length
    const first = await prisma.$queryRawUnsafe<{ v: bigint }[]>('SELECT v FROM raw_classify_view')
    const second = await prisma.$queryRawUnsafe<{ v: bigint }[]>('SELECT v FROM raw_classify_view')
    expect(Number(second[0]?.v)).toBe(Number(first[0]?.v) + 1)
    const targets = events.slice(from).map((e) => `${e.target}${e.reason === 'raw' ? ' (raw)' : ''}`)
    console.info(`a view calling nextval, created by another process: ${targets.join(', ')}`)
    expect([
      ['replica', 'primary (raw)', 'primary (raw)'],
      ['primary (raw)', 'primary (raw)'],
    ]).toContainEqual(targets)
  })
})

describe('only built-in functions run on a replica, resolved as the server resolves them (the primary’s catalog)', () => {
  /**
   * Objects that would run code of the application's on a replica under a built-in's name (each takes an advisory
   * lock in its session, which pg_locks shows on the server where it ran), and a clean view.
   */
  const setup = [
    'CREATE SCHEMA IF NOT EXISTS raw_trick',
    // An overload: lower(1) resolves to it (an exact match).
    "CREATE OR REPLACE FUNCTION public.lower(int) RETURNS int LANGUAGE sql AS 'SELECT pg_try_advisory_lock(424242)::int'",
    // A same-named function on a search_path that puts its schema first (the raw_trick client below).
    "CREATE OR REPLACE FUNCTION raw_trick.upper(text) RETURNS text LANGUAGE sql AS 'SELECT pg_try_advisory_lock(424243)::text'",
    // An operator for built-in operands, in another schema.
    "CREATE OR REPLACE FUNCTION raw_trick.plus(int, int) RETURNS int LANGUAGE sql AS 'SELECT pg_try_advisory_lock(424244)::int'",
    // (Not in a DO block: procedural code sent to the primary keeps raw reads there, see below.)
    'DROP OPERATOR IF EXISTS raw_trick.+ (int, int)',
    'CREATE OPERATOR raw_trick.+ (leftarg = int, rightarg = int, function = raw_trick.plus)',
    // Views calling what the text does not show, and a view over one of them.
    'CREATE OR REPLACE VIEW raw_trick_settings AS SELECT pg_try_advisory_lock(424245) AS s',
    'CREATE OR REPLACE VIEW raw_trick_over AS SELECT * FROM raw_trick_settings',
    'CREATE OR REPLACE VIEW raw_trick_wal AS SELECT pg_current_wal_lsn()::text AS lsn',
    'CREATE OR REPLACE VIEW raw_trick_clean AS SELECT id, upper(title) AS shout FROM "Note"',
    // A function of a row: n.raw_trick_row calls it (functional notation).
    'CREATE OR REPLACE FUNCTION public.raw_trick_row("Note") RETURNS int LANGUAGE sql AS \'SELECT pg_try_advisory_lock(424246)::int\'',
  ]
  const teardown = [
    'DROP VIEW IF EXISTS raw_trick_over, raw_trick_settings, raw_trick_wal, raw_trick_clean',
    'DROP FUNCTION IF EXISTS public.lower(int)',
    'DROP FUNCTION IF EXISTS public.raw_trick_row("Note")',
    'DROP SCHEMA IF EXISTS raw_trick CASCADE',
  ]

  it('overloads, search_path tricks, schema-qualified names, operators and views: each on the primary, none run on a replica', async (ctx) => {
    const c = requireCluster(ctx)
    // Clients of its own: a call of the application's function sent to the primary keeps raw reads there (below).
    const own = routedClient({ raw: 'classify' })
    const later = routedClient({ raw: 'classify' })
    // A client whose connections put raw_trick first on the search_path, before pg_catalog (replicas included).
    const tricked = (url: string) => newClient(`${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c search_path=raw_trick,pg_catalog,public')}`)
    const tricky: RouteEvent[] = []
    const trick = tricked(topology.primaryUrl).$extends(
      readReplicas({ replicas: topology.replicas.map((r) => ({ client: tricked(r.url), name: r.name })), raw: 'classify', onRoute: (e) => tricky.push(e) }),
    )
    const wrong: string[] = []
    const check = async (client: typeof prisma, log: RouteEvent[], sql: string, target: 'replica' | 'primary') => {
      const from = log.length
      // A scope of its own: a raw statement sent to the primary counts as a write of its scope.
      await runInScope(() => client.$queryRawUnsafe(sql))
      const event = log.slice(from).find((e) => e.operation === '$queryRawUnsafe')
      if (event?.target !== target) wrong.push(`${sql} -> ${String(event?.target)} ${String(event?.reason)} (expected ${target})`)
    }
    try {
      // Created through the routed client: the router reads the catalog again before the next raw read.
      for (const sql of setup) await own.prisma.$executeRawUnsafe(sql)
      await waitForReplication()
      // What stays trusted: names qualified with pg_catalog, and reads that name nothing of the tricks.
      await check(own.prisma, own.events, "SELECT pg_catalog.lower('ABC') AS x", 'replica')
      await check(own.prisma, own.events, 'SELECT 1 OPERATOR(pg_catalog.+) 1 AS two', 'replica')
      await check(own.prisma, own.events, 'SELECT count(*)::int AS n FROM "Note"', 'replica')
      await check(own.prisma, own.events, 'SELECT n.title FROM "Note" n LIMIT 1', 'replica')
      await check(trick, tricky, "SELECT pg_catalog.upper('abc') AS x", 'replica')
      // Inside a read-only transaction on a replica, what the catalog does not trust is refused.
      const inTransaction = (sql: string) =>
        own.prisma
          .$replica(replicaNames[0])
          .$transaction(async (tx) => await tx.$queryRawUnsafe(sql))
          .then(
            () => 'ran',
            (error: unknown) => (isReadOnlyTransactionError(error) ? error.message.replace(/.*not provably a plain read: ([^)]*)\).*/s, '$1') : String(error)),
          )
      expect(await inTransaction('SELECT lower(1) AS x')).toBe('function lower is also defined outside pg_catalog')
      expect(await inTransaction('SELECT * FROM raw_trick_over')).toBe('relation raw_trick_over runs code outside the built-ins when read')
      expect(await inTransaction("SELECT pg_catalog.lower('ABC') AS x")).toBe('ran')
      // What may reach the application's code: the primary.
      await check(own.prisma, own.events, 'SELECT lower(1) AS x', 'primary')
      await check(own.prisma, own.events, "SELECT lower('ABC') AS x", 'primary') // the name is shadowed, whatever the argument
      await check(own.prisma, own.events, 'SELECT 1 + 1 AS two', 'primary') // raw_trick.+ (int, int) exists
      await check(own.prisma, own.events, 'SELECT * FROM raw_trick_settings', 'primary')
      await check(own.prisma, own.events, 'SELECT * FROM raw_trick_over', 'primary')
      await check(own.prisma, own.events, 'SELECT * FROM raw_trick_wal', 'primary')
      await check(own.prisma, own.events, 'SELECT count(*)::int AS n FROM raw_trick_clean', 'primary') // upper is shadowed (raw_trick.upper(text))
      await check(own.prisma, own.events, 'SELECT n.raw_trick_row FROM "Note" n LIMIT 1', 'primary')
      await check(trick, tricky, "SELECT upper('abc') AS x", 'primary')
      await check(own.prisma, own.events, 'SELECT public.lower(1) AS x', 'primary')
      expect(wrong).toEqual([])
      // Nothing of the application's ran on a replica: no advisory lock is held there (on the primary, some are).
      for (const name of replicaNames) {
        expect(await c.query(name, "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objid BETWEEN 424242 AND 424246")).toEqual([])
      }
      // A call of the application's function on the primary may have changed that session: raw reads stay there.
      await check(own.prisma, own.events, 'SELECT count(*)::int AS n FROM "Note"', 'primary')
      expect(wrong).toEqual([])
      await check(later.prisma, later.events, "SELECT lower('ABC') AS x, 1 + 1 AS two", 'primary')
    } finally {
      // Dropped through the routed client: the same text is trusted again at once.
      for (const sql of teardown) await later.prisma.$executeRawUnsafe(sql)
      await trick.$disconnect()
    }
    await check(later.prisma, later.events, "SELECT lower('ABC') AS x, 1 + 1 AS two", 'replica')
    await Promise.all([own.prisma.$disconnect(), later.prisma.$disconnect()])
    expect(wrong).toEqual([])
  })

  it('user types the catalog shows running user code (a cast through a function, a domain check under a domain or in a row type, a default operator class, t.f on a domain), current_setting: on the primary, as a plain client answers', async (ctx) => {
    const c = requireCluster(ctx)
    const plain = newClient(topology.primaryUrl)
    const setup = [
      "CREATE TYPE rv_where AS ENUM ('primary', 'replica')",
      "CREATE FUNCTION rv_where_of(int) RETURNS rv_where LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_lock($1); RETURN CASE WHEN pg_is_in_recovery() THEN 'replica'::rv_where ELSE 'primary'::rv_where END; END $$",
      'CREATE CAST (int AS rv_where) WITH FUNCTION rv_where_of(int)',
      'CREATE FUNCTION rv_check(int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN NOT pg_is_in_recovery(); END $$',
      'CREATE DOMAIN rv_d1 AS int CHECK (rv_check(VALUE))',
      'CREATE DOMAIN rv_d2 AS rv_d1',
      'CREATE TABLE rv_t (v rv_d1)',
      'CREATE TYPE rv_pair AS (a int, b int)',
      'CREATE DOMAIN rv_pair_d AS rv_pair',
      "CREATE FUNCTION rv_side(rv_pair_d) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END; END $$",
      "CREATE TYPE rv_e AS ENUM ('a', 'b')",
      'CREATE FUNCTION rv_e_cmp(rv_e, rv_e) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN CASE WHEN pg_is_in_recovery() THEN -enum_cmp($1, $2) ELSE enum_cmp($1, $2) END; END $$',
      "CREATE FUNCTION rv_e_lt(rv_e, rv_e) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 OPERATOR(pg_catalog.<) $2'",
      'CREATE OPERATOR #<# (leftarg = rv_e, rightarg = rv_e, function = rv_e_lt)',
      "CREATE FUNCTION rv_e_eq(rv_e, rv_e) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 OPERATOR(pg_catalog.=) $2'",
      'CREATE OPERATOR #=# (leftarg = rv_e, rightarg = rv_e, function = rv_e_eq)',
      'CREATE OPERATOR CLASS rv_e_ops DEFAULT FOR TYPE rv_e USING btree AS OPERATOR 1 #<#, OPERATOR 3 #=#, FUNCTION 1 rv_e_cmp(rv_e, rv_e)',
    ]
    const teardown = [
      'DROP TABLE IF EXISTS rv_t',
      'DROP TYPE IF EXISTS rv_where, rv_e, rv_pair CASCADE',
      'DROP DOMAIN IF EXISTS rv_d2, rv_d1, rv_pair_d CASCADE',
      'DROP FUNCTION IF EXISTS rv_where_of(int), rv_check(int), rv_e_cmp(rv_e, rv_e), rv_e_lt(rv_e, rv_e), rv_e_eq(rv_e, rv_e) CASCADE',
    ]
    try {
      for (const sql of setup) await prisma.$executeRawUnsafe(sql)
      await waitForReplication()
      const statements = [
        'SELECT 7::rv_where AS w',
        'SELECT 5::rv_d2 AS v',
        "SELECT '(5)'::rv_t AS row",
        `SELECT v FROM jsonb_populate_record(NULL::rv_t, '{"v": 5}')`,
        'SELECT (ROW(1, 2)::rv_pair_d).rv_side AS w',
        "SELECT array_agg(x ORDER BY x) AS xs FROM (VALUES ('a'::rv_e), ('b'::rv_e)) v(x)",
        "SELECT current_setting('transaction_read_only') AS ro",
      ]
      const wrong: string[] = []
      for (const sql of statements) {
        const from = events.length
        const answer = (client: { $queryRawUnsafe(sql: string): PromiseLike<unknown> }) =>
          Promise.resolve(client.$queryRawUnsafe(sql)).then(
            (rows) => JSON.stringify(rows),
            (error: unknown) => `error ${String((error as { message?: unknown }).message)}`,
          )
        const routedAnswer = await runInScope(() => answer(prisma))
        const target = events.slice(from).find((e) => e.operation === '$queryRawUnsafe')?.target
        const plainAnswer = await answer(plain)
        if (target !== 'primary' || routedAnswer !== plainAnswer) wrong.push(`${sql} -> ${String(target)}: ${routedAnswer} (plain: ${plainAnswer})`)
      }
      expect(wrong).toEqual([])
      for (const name of replicaNames) expect(await c.query(name, "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objid = 7")).toEqual([])
    } finally {
      for (const sql of teardown) await prisma.$executeRawUnsafe(sql)
      await plain.$disconnect()
    }
  })

  it('a type whose I/O is an extension’s (citext): a relation with such a column, or a cast to it, on the primary', async () => {
    await prisma.$executeRawUnsafe('CREATE EXTENSION IF NOT EXISTS citext')
    await prisma.$executeRawUnsafe('CREATE TABLE IF NOT EXISTS raw_trick_ci (id int PRIMARY KEY, name citext)')
    try {
      await waitForReplication()
      const targets: string[] = []
      for (const sql of ['SELECT count(*)::int AS n FROM raw_trick_ci', "SELECT 'x'::citext::text AS x", "SELECT lower('ABC') AS x"]) {
        const from = events.length
        await runInScope(() => prisma.$queryRawUnsafe(sql))
        targets.push(`${sql} -> ${String(events.slice(from).find((e) => e.operation === '$queryRawUnsafe')?.target)}`)
      }
      // citext's own lower(citext) takes a citext: a built-in value cannot reach it, so lower('ABC') stays trusted.
      expect(targets).toEqual(['SELECT count(*)::int AS n FROM raw_trick_ci -> primary', "SELECT 'x'::citext::text AS x -> primary", "SELECT lower('ABC') AS x -> replica"])
    } finally {
      await prisma.$executeRawUnsafe('DROP TABLE IF EXISTS raw_trick_ci')
      await prisma.$executeRawUnsafe('DROP EXTENSION IF EXISTS citext')
    }
  })

  it('an overload created by another process is trusted no longer once the catalog is read again (at most 5 s later)', async (ctx) => {
    const c = requireCluster(ctx)
    const from = events.length
    await runInScope(() => prisma.$queryRawUnsafe("SELECT lower('ABC') AS x"))
    expect(events.slice(from).map((e) => e.target)).toEqual(['replica'])
    await c.query('primary', "CREATE OR REPLACE FUNCTION public.lower(int) RETURNS int LANGUAGE sql AS 'SELECT 1'")
    try {
      await until(
        'the raw read goes to the primary',
        async () => {
          const at = events.length
          await runInScope(() => prisma.$queryRawUnsafe("SELECT lower('ABC') AS x"))
          return events[at]?.target === 'primary'
        },
        CATALOG_MAX_AGE_MS + 5_000,
      )
    } finally {
      await c.query('primary', 'DROP FUNCTION IF EXISTS public.lower(int)')
    }
  })
})

describe('standby-only failures and the primary’s session state: a raw read answers as on a plain client', () => {
  it('0A000 (an unlogged table) and 42P01 (a table the replica has not replayed) are done on the primary; 0A000 demotes the text', async (ctx) => {
    const c = requireCluster(ctx)
    const plain = newClient(topology.primaryUrl)
    try {
      await prisma.$executeRawUnsafe('CREATE UNLOGGED TABLE IF NOT EXISTS raw_unlogged (id int)')
      await prisma.$executeRawUnsafe('INSERT INTO raw_unlogged VALUES (1), (2)')
      await waitForReplication()
      const unlogged = 'SELECT count(*)::int AS n FROM raw_unlogged'
      let from = events.length
      // Each read in a scope of its own (the statements above count as writes of the client-wide scope).
      expect(await runInScope(() => prisma.$queryRawUnsafe(unlogged))).toEqual(await plain.$queryRawUnsafe(unlogged))
      expect(await runInScope(() => prisma.$queryRawUnsafe(unlogged))).toEqual([{ n: 2 }])
      expect(events.slice(from).map((e) => `${e.target}${e.reason === 'raw' ? ' (raw)' : ''}`)).toEqual(['replica', 'primary (raw)', 'primary (raw)'])
      // A table created by another process while the replicas do not replay: 42P01 there, done on the primary.
      for (const name of replicaNames) await c.pauseReplay(name)
      const table = `raw_fresh_${String(process.pid)}`
      await c.query('primary', `CREATE TABLE IF NOT EXISTS ${table} (id int)`)
      from = events.length
      const fresh = `SELECT count(*)::int AS n FROM ${table}`
      expect(await runInScope(() => prisma.$queryRawUnsafe(fresh))).toEqual([{ n: 0 }])
      expect(events.slice(from).map((e) => `${e.target}${e.reason === 'raw' ? ' (raw)' : ''}`)).toEqual(['replica', 'primary (raw)'])
      for (const name of replicaNames) await c.resumeReplay(name)
      await c.query('primary', `DROP TABLE IF EXISTS ${table}`)
    } finally {
      await prisma.$executeRawUnsafe('DROP TABLE IF EXISTS raw_unlogged')
      await plain.$disconnect()
    }
  })

  it('a view over pg_current_wal_lsn() (55000 on a standby): the same answer as a plain client, every call on the primary', async () => {
    const plain = newClient(topology.primaryUrl)
    try {
      await prisma.$executeRawUnsafe('CREATE OR REPLACE VIEW raw_wal_position AS SELECT pg_current_wal_lsn() IS NOT NULL AS known')
      await waitForReplication()
      const sql = 'SELECT known FROM raw_wal_position'
      const from = events.length
      for (let i = 0; i < 3; i++) expect(await prisma.$queryRawUnsafe(sql)).toEqual(await plain.$queryRawUnsafe(sql))
      expect(events.slice(from).map((e) => e.target)).toEqual(['primary', 'primary', 'primary'])
    } finally {
      await prisma.$executeRawUnsafe('DROP VIEW IF EXISTS raw_wal_position')
      await plain.$disconnect()
    }
  })

  it('session state the parser sees only by looking closer (a pg_temp table, a DO block): raw reads answer as a plain client on one connection does', async () => {
    // One connection to the primary each: the plain client's answer then depends on its session, deterministically.
    const one = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 1 }) })
    await prisma.$executeRawUnsafe(`CREATE TABLE IF NOT EXISTS raw_shadow AS SELECT 'permanent table'::text AS t`)
    await waitForReplication()
    for (const [label, change, read] of [
      ['a pg_temp table', `CREATE TABLE pg_temp.raw_shadow AS SELECT 'session temp table'::text AS t`, 'SELECT t FROM raw_shadow'],
      ['a DO block', `DO $$ BEGIN PERFORM set_config('intervalstyle', 'iso_8601', false); END $$`, "SELECT (interval '1 day 2 hours')::text AS i"],
    ] as const) {
      const plain = one(topology.primaryUrl)
      const own: RouteEvent[] = []
      const routed = one(topology.primaryUrl).$extends(
        readReplicas({ replicas: topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name })), raw: 'classify', onRoute: (e) => own.push(e) }),
      )
      try {
        await routed.$executeRawUnsafe(change)
        await plain.$executeRawUnsafe(change)
        await waitForReplication()
        const from = own.length
        const routedAnswer = await runInScope(() => routed.$queryRawUnsafe(read))
        expect(
          own.slice(from).map((e) => e.target),
          label,
        ).toEqual(['primary'])
        expect(routedAnswer, label).toEqual(await plain.$queryRawUnsafe(read))
      } finally {
        await Promise.all([routed.$disconnect(), plain.$disconnect()])
      }
    }
    await prisma.$executeRawUnsafe('DROP TABLE IF EXISTS raw_shadow')
  })

  it('session state set on the primary (SET, a temporary table): raw reads go to the primary from then on, with one warning', async () => {
    const own = routedClient({ raw: 'classify' })
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      const interval = "SELECT (interval '1 day')::text AS i"
      let from = own.events.length
      await own.prisma.$queryRawUnsafe(interval)
      expect(own.events.slice(from).map((e) => e.target)).toEqual(['replica'])
      await own.prisma.$executeRawUnsafe("SET intervalstyle = 'iso_8601'")
      from = own.events.length
      const after = await own.prisma.$queryRawUnsafe<{ i: string }[]>(interval)
      expect(own.events.slice(from).map((e) => e.target)).toEqual(['primary'])
      // The primary's session answers as a plain client's would on that connection (ISO 8601 there, never a
      // replica's default format for this client any more).
      expect(['P1D', '1 day']).toContain(after[0]?.i)
      // A temporary table created through the client under the router is read on the primary too.
      await own.base.$executeRawUnsafe('CREATE TEMP TABLE IF NOT EXISTS raw_temp_rows AS SELECT 1 AS a')
      from = own.events.length
      await own.prisma.$queryRawUnsafe('SELECT count(*)::int AS n FROM "Note"').catch(() => undefined)
      expect(own.events.slice(from).map((e) => e.target)).toEqual(['primary'])
      await until('the warning', () => warnings.some((w) => (w as { code?: string }).code === SESSION_STATE_WARNING))
      expect(warnings.filter((w) => (w as { code?: string }).code === SESSION_STATE_WARNING)).toHaveLength(1)
    } finally {
      process.off('warning', onWarning)
      await own.prisma.$disconnect()
    }
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
        const retries = client.prisma.$routerStats().retries
        const error = await runInScope(() => client.prisma.$queryRawUnsafe(sql, ...values)).then(
          () => undefined,
          (e: unknown) => e as { code?: unknown; message?: unknown; constructor: unknown },
        )
        expect(error?.constructor).toBe((Object.getPrototypeOf(expected) as { constructor: unknown }).constructor)
        expect({ code: error?.code, message: error?.message }).toEqual({ code: expected?.code, message: expected?.message })
        const routes = client.events.slice(from).map((e) => `${e.target} ${e.reason}`)
        expect(routes).toEqual([route])
        expect(client.prisma.$replicaStatus().map((r) => r.state)).toEqual(replicaNames.map(() => 'up'))
        expect(client.prisma.$routerStats().retries - retries).toBe(0)
        // Unrelated reads stay on replicas (with fallback: 'error', they would throw if none were in rotation).
        const next = client.events.length
        await runInScope(() => client.prisma.note.count())
        expect(client.events.slice(next).map((e) => e.target)).toEqual(['replica'])
      }
    })
  }
})
