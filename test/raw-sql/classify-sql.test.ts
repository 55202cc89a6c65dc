import { beforeAll, describe, expect, it, vi } from 'vitest'
import { classifyParsed, SqlClassifier } from '../../src/raw-sql/classify-sql.ts'
import { READ_ONLY_FUNCTIONS } from '../../src/raw-sql/read-only-functions.ts'

const classifier = new SqlClassifier()

beforeAll(async () => {
  await classifier.load()
})

/** `[sql, expected]`: `true` for a replica, else the reason the statement goes to the primary. */
const STATEMENTS = [
  // Plain reads.
  ['SELECT 1', true],
  ['SELECT u.id, p.title FROM "User" u JOIN "Post" p ON p."authorId" = u.id WHERE u.email = $1', true],
  ['SELECT * FROM t WHERE id IN (SELECT "tId" FROM u WHERE u.x > $1 AND u.y < $2)', true],
  ["SELECT count(*), sum(n), avg(n), max(n), string_agg(name, ', ') FROM t GROUP BY k HAVING count(*) > 1", true],
  ['SELECT id, row_number() OVER (PARTITION BY k ORDER BY id), lag(n) OVER w FROM t WINDOW w AS (ORDER BY id)', true],
  ['SELECT * FROM t WHERE id = $1 LIMIT $2 OFFSET $3', true],
  ["VALUES (1, 'a'), (2, 'b')", true],
  ['TABLE t', true],
  ['SELECT a FROM t UNION ALL SELECT b FROM u EXCEPT SELECT c FROM v', true],
  ["WITH recent AS (SELECT * FROM t WHERE at > now() - interval '1 day') SELECT count(*) FROM recent", true],
  ['WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sum(i) FROM n', true],
  ['SELECT * FROM t, LATERAL (SELECT * FROM u WHERE u.t_id = t.id ORDER BY u.at DESC LIMIT 1) last', true],
  ["SELECT data->>'name', data #> '{a,b}', jsonb_build_object('k', data->'k') FROM t WHERE data @> $1::jsonb", true],
  ["SELECT CASE WHEN n > 0 THEN 'pos' ELSE 'neg' END, coalesce(a, b), nullif(a, 0), greatest(a, b) FROM t", true],
  ['SELECT $1::int, n::text, CAST(x AS numeric(10, 2)) FROM t', true],
  ['SELECT "Weird ""Name""" FROM "My Table" AS "x"', true],
  ['-- a comment\nSELECT /* inline */ 1;', true],
  ['SELECT now()', true],
  ['SELECT CURRENT_TIMESTAMP, CURRENT_DATE, CURRENT_USER', true],
  ["SELECT extract(year FROM at), date_trunc('day', at), trim(name), substring(name FROM 1 FOR 3), at AT TIME ZONE 'UTC' FROM t", true],
  ["SELECT pg_catalog.lower('x')", true],
  ['SELECT * FROM generate_series(1, 3)', true],
  ['SELECT lower(name) FROM t WHERE to_tsvector(body) @@ websearch_to_tsquery($1)', true],
  // A setting differs between servers and sessions (`port`, `transaction_read_only`, one set on a primary connection).
  ["SELECT current_setting('app.tenant')", 'function current_setting'],
  // Writes in disguise.
  // With standard_conforming_strings = off, '\\' ends no string: the server would run a second statement.
  ["SELECT '\\', 'x; SELECT pg_try_advisory_lock(7); --'", 'backslash (standard_conforming_strings may be off)'],
  ["SELECT E'a\\nb'", 'backslash (standard_conforming_strings may be off)'],
  ['WITH d AS (DELETE FROM t WHERE id = $1 RETURNING *) SELECT * FROM d', 'writable CTE (DELETE)'],
  ['WITH i AS (INSERT INTO t (n) VALUES (1) RETURNING id) SELECT id FROM i', 'writable CTE (INSERT)'],
  ['WITH u AS (UPDATE t SET n = n + 1 RETURNING n) SELECT n FROM u', 'writable CTE (UPDATE)'],
  ['WITH r AS (SELECT 1) SELECT * FROM (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d) x', 'writable CTE (DELETE)'],
  ["SELECT nextval('s')", 'function nextval'],
  ["SELECT setval('s', 10)", 'function setval'],
  ['SELECT pg_advisory_lock(1)', 'function pg_advisory_lock'],
  ['SELECT pg_try_advisory_xact_lock(1)', 'function pg_try_advisory_xact_lock'],
  ["SELECT set_config('a.b', '1', false)", 'function set_config'],
  ['SELECT my_func()', 'function my_func'],
  ["SELECT public.lower('x')", 'function public.lower'],
  ["SELECT pg_catalog.nextval('s')", 'function pg_catalog.nextval'],
  ['SELECT * FROM my_srf()', 'function my_srf'],
  ["SELECT lower(nextval('s')::text)", 'function nextval'],
  ['SELECT txid_current()', 'function txid_current'],
  ["SELECT pg_notify('c', 'x')", 'function pg_notify'],
  ["SELECT lo_import('/x')", 'function lo_import'],
  ['SELECT * FROM t WHERE id = $1 FOR UPDATE', 'FOR UPDATE'],
  ['SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED', 'FOR NO KEY UPDATE'],
  ['SELECT * FROM t WHERE id IN (SELECT t_id FROM u FOR SHARE)', 'FOR SHARE'],
  ['SELECT * FROM (SELECT * FROM t) a UNION SELECT * FROM (SELECT * FROM u FOR KEY SHARE) b', 'FOR KEY SHARE'],
  ['SELECT * INTO t2 FROM t', 'SELECT INTO'],
  // An operator named with a schema other than pg_catalog resolves there.
  ['SELECT a OPERATOR(public.+) b FROM t', 'operator public.+'],
  ['SELECT * FROM t ORDER BY a USING OPERATOR(myschema.<)', 'operator myschema.<'],
  ['CREATE TABLE t2 AS SELECT * FROM t', 'not a single SELECT (CreateTableAsStmt)'],
  ['EXPLAIN ANALYZE DELETE FROM t', 'not a single SELECT (ExplainStmt)'],
  ['EXPLAIN SELECT 1', 'not a single SELECT (ExplainStmt)'],
  // Other statements.
  ['SELECT 1; SELECT 2', '2 statements'],
  ['SELECT 1; DELETE FROM t', '2 statements'],
  ['INSERT INTO t (n) VALUES ($1)', 'not a single SELECT (InsertStmt)'],
  ['UPDATE t SET n = $1 WHERE id = $2', 'not a single SELECT (UpdateStmt)'],
  ['DELETE FROM t WHERE id = $1', 'not a single SELECT (DeleteStmt)'],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'not a single SELECT (MergeStmt)'],
  ['COPY t TO STDOUT', 'not a single SELECT (CopyStmt)'],
  ['SET x = 1', 'not a single SELECT (VariableSetStmt)'],
  ['SHOW x', 'not a single SELECT (VariableShowStmt)'],
  ['BEGIN', 'not a single SELECT (TransactionStmt)'],
  ['LOCK TABLE t IN ACCESS EXCLUSIVE MODE', 'not a single SELECT (LockStmt)'],
  ['CALL p()', 'not a single SELECT (CallStmt)'],
  ['DO $$ BEGIN PERFORM 1; END $$', 'not a single SELECT (DoStmt)'],
  // Not SQL at all.
  ['SELEC 1', 'parse error'],
  ['SELECT (1', 'parse error'],
  ['', 'parse error'],
  [' ; ', '0 statements'],
] as const

describe('classify: provable plain reads go to a replica, anything else to the primary', () => {
  it.for(STATEMENTS)('%s', ([sql, expected]) => {
    const verdict = classifier.classify(sql)
    expect(verdict.replica ? true : verdict).toEqual(expected === true ? true : { replica: false, reason: expected })
  })

  it('covers enough statements, half of them not for a replica', () => {
    expect(STATEMENTS.length).toBeGreaterThanOrEqual(45)
    expect(STATEMENTS.filter(([, expected]) => expected !== true).length).toBeGreaterThan(STATEMENTS.length / 2)
  })
})

describe('the names a plain read uses, for the catalog check (src/raw-sql/catalog-trust.ts)', () => {
  const uses = (sql: string) => {
    const verdict = classifier.classify(sql)
    return verdict.replica ? verdict.uses : verdict
  }
  const comparisons = ['<', '<=', '<>', '=', '>', '>=']

  it('functions called unqualified, operators (comparisons always), relations and types', () => {
    expect(
      uses(`SELECT lower(a), pg_catalog.upper(b) FROM s.t JOIN u USING (id) WHERE a LIKE $1 AND c || d = 'x' AND e::citext = f::pg_catalog.int4 ORDER BY a USING ~<~`),
    ).toEqual({
      functions: ['lower'],
      operators: [...comparisons, '||', '~<~', '~~'].sort(),
      relations: ['t', 'u'],
      types: ['citext'],
      fields: [],
    })
  })

  it('operators of subqueries and ANY, OPERATOR(pg_catalog.…) resolving in pg_catalog only', () => {
    expect(uses('SELECT 1 WHERE a = ANY (SELECT b FROM v) AND c OPERATOR(pg_catalog.+) d > 0 AND e @> $1')).toEqual({
      functions: [],
      operators: [...comparisons, '@>'].sort(),
      relations: ['v'],
      types: [],
      fields: [],
    })
  })

  it('fields selected from a row (t.f, (t).f): the server may call f(t)', () => {
    expect(uses('SELECT t.f, (t).g, t.*, x FROM t')).toMatchObject({ fields: ['f', 'g'] })
  })

  it('CTE names are taken for relations (a view of that name would be checked too)', () => {
    expect(uses('WITH x AS (SELECT 1 AS n) SELECT n FROM x')).toMatchObject({ relations: ['x'] })
  })
})

describe('classifyParsed', () => {
  it('sends anything it cannot read to the primary', () => {
    expect(classifyParsed(undefined)).toEqual({ replica: false, reason: 'parse error' })
    expect(classifyParsed({ stmts: [{ stmt: { SelectStmt: {}, Other: {} } }] })).toEqual({ replica: false, reason: 'not a single SELECT (unknown)' })
    const funcCall = (funcname: unknown) => ({ stmts: [{ stmt: { SelectStmt: { targetList: [{ FuncCall: { funcname } }] } } }] })
    expect(classifyParsed(funcCall([{ String: { sval: 'lower' } }]))).toMatchObject({ replica: true, uses: { functions: ['lower'] } })
    expect(classifyParsed(funcCall([{ Other: {} }]))).toEqual({ replica: false, reason: 'unreadable function name' })
    expect(classifyParsed(funcCall(['pg_catalog', 'lower'].map((sval) => ({ String: { sval } })).concat([{ String: { sval: 'x' } }])))).toEqual({
      replica: false,
      reason: 'function pg_catalog.lower.x',
    })
  })

  it('walks node kinds it does not know', () => {
    const nextval = { FuncCall: { funcname: [{ String: { sval: 'nextval' } }] } }
    expect(classifyParsed({ stmts: [{ stmt: { SelectStmt: { targetList: [{ FutureExpr: { args: [[nextval]] } }] } } }] })).toEqual({
      replica: false,
      reason: 'function nextval',
    })
  })
})

describe('SqlClassifier cache', () => {
  it('parses a text once, then serves its verdict from the cache', async () => {
    const own = new SqlClassifier()
    await own.load()
    expect(own.classify('SELECT 42')).toMatchObject({ replica: true })
    expect(own.classify('SELECT 42')).toMatchObject({ replica: true })
    expect(own.classify('SELECT nextval($1)')).toEqual({ replica: false, reason: 'function nextval' })
    expect(own.classify('SELECT nextval($1)')).toEqual({ replica: false, reason: 'function nextval' })
    expect({ parsed: own.parsed, cached: own.cached, size: own.size }).toEqual({ parsed: 2, cached: 2, size: 2 })
  })

  it('keeps a bounded number of verdicts, dropping the oldest', async () => {
    const own = new SqlClassifier({ cacheEntries: 2 })
    await own.load()
    for (const sql of ['SELECT 1', 'SELECT 2', 'SELECT 3']) own.classify(sql)
    expect(own.size).toBe(2)
    own.classify('SELECT 3')
    own.classify('SELECT 2')
    expect(own.cached).toBe(2)
    own.classify('SELECT 1')
    expect({ parsed: own.parsed, cached: own.cached, size: own.size }).toEqual({ parsed: 4, cached: 2, size: 2 })
  })

  it('does not keep the verdict of a long text', async () => {
    const own = new SqlClassifier({ maxCachedLength: 20 })
    await own.load()
    const long = `SELECT ${'1 + '.repeat(10)}1`
    own.classify(long)
    own.classify(long)
    expect({ parsed: own.parsed, cached: own.cached, size: own.size }).toEqual({ parsed: 2, cached: 0, size: 0 })
  })

  it('refuses to classify before the parser is loaded', () => {
    expect(() => new SqlClassifier().classify('SELECT 1')).toThrow('SqlClassifier.classify() called before load() resolved')
    expect(new SqlClassifier().ready).toBe(false)
    expect(classifier.ready).toBe(true)
  })
})

describe('READ_ONLY_FUNCTIONS', () => {
  it('holds lowercase names only', () => {
    for (const name of READ_ONLY_FUNCTIONS) expect(name).toMatch(/^[a-z][a-z0-9_]*$/)
  })

  it.for([
    'nextval',
    'setval',
    'currval',
    'lastval',
    'set_config',
    'pg_notify',
    'txid_current',
    'pg_current_xact_id',
    'pg_current_wal_lsn',
    'pg_switch_wal',
    'pg_sleep',
    'pg_terminate_backend',
    'pg_cancel_backend',
    'pg_reload_conf',
    'pg_export_snapshot',
    'pg_logical_emit_message',
  ])('does not hold %s', (name) => {
    expect(READ_ONLY_FUNCTIONS.has(name)).toBe(false)
  })

  it('holds no advisory lock, large object, dblink, sleep, replication slot or statistics reset function', () => {
    const forbidden = /^(pg_advisory_|pg_try_advisory_|lo_|dblink|pg_sleep|pg_stat_reset|pg_create_.*_replication_slot$)/
    expect([...READ_ONLY_FUNCTIONS].filter((name) => forbidden.test(name))).toEqual([])
  })
})

describe('loading libpg-query', () => {
  it('names the optional peer dependency when it is missing', async () => {
    vi.resetModules()
    vi.doMock('libpg-query', () => {
      throw new Error('Cannot find package')
    })
    try {
      const { loadSqlParser } = await import('../../src/raw-sql/sql-parser.ts')
      await expect(loadSqlParser()).rejects.toThrow("`raw: 'classify'` needs the optional peer dependency `libpg-query` (npm install libpg-query): ")
    } finally {
      vi.doUnmock('libpg-query')
      vi.resetModules()
    }
  })
})
