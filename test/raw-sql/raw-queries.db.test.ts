/**
 * `raw: 'classify'` on the real cluster: raw reads whose SQL PostgreSQL's parser proves a plain read run on
 * replicas (counted by the servers), everything else on the primary, and no write ever reaches a replica
 * (SQLSTATE 25006 in the replicas' logs: 0). Read-your-writes and failover apply as for model reads. The
 * classifier's verdicts over a wider table of statements: test/raw-sql/classify-sql.test.ts.
 */
import { makeTypedQueryFactory } from '@prisma/client/runtime/client'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
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
    'DO $$ BEGIN CREATE OPERATOR raw_trick.+ (leftarg = int, rightarg = int, function = raw_trick.plus); EXCEPTION WHEN duplicate_function THEN NULL; END $$',
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
    // A client whose connections put raw_trick first on the search_path, before pg_catalog (replicas included).
    const tricked = (url: string) => newClient(`${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c search_path=raw_trick,pg_catalog,public')}`)
    const tricky: RouteEvent[] = []
    const trick = tricked(topology.primaryUrl).$extends(
      readReplicas({ replicas: topology.replicas.map((r) => ({ client: tricked(r.url), name: r.name })), raw: 'classify', onRoute: (e) => tricky.push(e) }),
    )
    try {
      // Created through the routed client: the router reads the catalog again before the next raw read.
      for (const sql of setup) await prisma.$executeRawUnsafe(sql)
      await waitForReplication()
      const cases: [client: typeof prisma, events: RouteEvent[], sql: string, target: 'replica' | 'primary'][] = [
        [prisma, events, 'SELECT lower(1) AS x', 'primary'],
        [prisma, events, "SELECT lower('ABC') AS x", 'primary'], // the name is shadowed, whatever the argument
        [prisma, events, "SELECT pg_catalog.lower('ABC') AS x", 'replica'], // qualified: resolves in pg_catalog only
        [prisma, events, 'SELECT public.lower(1) AS x', 'primary'],
        [prisma, events, 'SELECT 1 + 1 AS two', 'primary'], // raw_trick.+ (int, int) exists
        [prisma, events, 'SELECT 1 OPERATOR(pg_catalog.+) 1 AS two', 'replica'],
        [prisma, events, 'SELECT * FROM raw_trick_settings', 'primary'],
        [prisma, events, 'SELECT * FROM raw_trick_over', 'primary'],
        [prisma, events, 'SELECT * FROM raw_trick_wal', 'primary'],
        [prisma, events, 'SELECT count(*)::int AS n FROM raw_trick_clean', 'primary'], // upper is shadowed (raw_trick.upper(text))
        [prisma, events, 'SELECT count(*)::int AS n FROM "Note"', 'replica'],
        [prisma, events, 'SELECT n.raw_trick_row FROM "Note" n LIMIT 1', 'primary'],
        [prisma, events, 'SELECT n.title FROM "Note" n LIMIT 1', 'replica'],
        [trick, tricky, "SELECT upper('abc') AS x", 'primary'],
        [trick, tricky, "SELECT pg_catalog.upper('abc') AS x", 'replica'],
      ]
      const wrong: string[] = []
      for (const [client, log, sql, target] of cases) {
        const from = log.length
        // A scope of its own: a raw statement sent to the primary counts as a write of its scope.
        await runInScope(() => client.$queryRawUnsafe(sql))
        const event = log.slice(from).find((e) => e.operation === '$queryRawUnsafe')
        if (event?.target !== target) wrong.push(`${sql} -> ${String(event?.target)} ${String(event?.reason)} (expected ${target})`)
      }
      expect(wrong).toEqual([])
      // Inside a read-only transaction on a replica, the same texts are refused (the trusted one runs).
      const inTransaction = (sql: string) =>
        prisma
          .$replica(replicaNames[0])
          .$transaction(async (tx) => await tx.$queryRawUnsafe(sql))
          .then(
            () => 'ran',
            (error: unknown) => (isReadOnlyTransactionError(error) ? error.message.replace(/.*not provably a plain read: ([^)]*)\).*/s, '$1') : String(error)),
          )
      expect(await inTransaction('SELECT lower(1) AS x')).toBe('function lower is also defined outside pg_catalog')
      expect(await inTransaction('SELECT * FROM raw_trick_over')).toBe('relation raw_trick_over runs code outside the built-ins when read')
      expect(await inTransaction("SELECT pg_catalog.lower('ABC') AS x")).toBe('ran')
      // Nothing of the application's ran on a replica: no advisory lock is held there (on the primary, some are).
      for (const name of replicaNames) {
        expect(await c.query(name, "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objid BETWEEN 424242 AND 424246")).toEqual([])
      }
    } finally {
      for (const sql of teardown) await prisma.$executeRawUnsafe(sql)
      await trick.$disconnect()
    }
    // Dropped through the routed client: the same texts are trusted again at once.
    const from = events.length
    await runInScope(() => prisma.$queryRawUnsafe("SELECT lower('ABC') AS x, 1 + 1 AS two"))
    expect(events.slice(from).map((e) => e.target)).toEqual(['replica'])
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
