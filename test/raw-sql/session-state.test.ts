import { beforeAll, describe, expect, it } from 'vitest'
import { SqlClassifier } from '../../src/raw-sql/classify-sql.ts'

const classifier = new SqlClassifier()
beforeAll(async () => {
  await classifier.load()
})

describe('sessionEffect: statements that leave state in the session beyond their transaction', () => {
  it.for([
    ["SET intervalstyle = 'iso_8601'", 'SET intervalstyle'],
    ['SET search_path = app, public', 'SET search_path'],
    ['SET SESSION statement_timeout = 1', 'SET statement_timeout'],
    ['SET ROLE reporting', 'SET role'],
    ['RESET timezone', 'RESET timezone'],
    ['RESET ALL', 'RESET ALL'],
    ['SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', 'SET SESSION CHARACTERISTICS'],
    ["SELECT set_config('app.tenant', 'a', false)", 'set_config(…, false)'],
    ["SELECT set_config('app.tenant', $1, $2)", 'set_config(…, false)'],
    ['CREATE TEMP TABLE t (a int)', 'a temporary relation'],
    ['CREATE TEMPORARY VIEW v AS SELECT 1', 'a temporary relation'],
    ['SELECT * INTO TEMP t2 FROM t', 'a temporary relation'],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT 1', 'DECLARE … WITH HOLD'],
    ['PREPARE p AS SELECT 1', 'PREPARE'],
    ['DEALLOCATE ALL', 'DEALLOCATE'],
    ['LISTEN jobs', 'LISTEN'],
    ['DISCARD ALL', 'DISCARD'],
    ["LOAD 'auto_explain'", 'LOAD'],
    ['BEGIN; SET timezone = 1; COMMIT', 'SET timezone'],
    ["CREATE TABLE pg_temp.shadow AS SELECT 'x' AS t", 'a temporary relation'],
    ['CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', 'a temporary function'],
    ["DO $$ BEGIN PERFORM set_config('intervalstyle', 'iso_8601', false); END $$", 'a DO block'],
    ['CALL refresh_things()', 'CALL'],
    ['SELECT app.my_setup()', 'function app.my_setup'],
  ] as const)('%s -> %s', ([sql, effect]) => {
    expect(classifier.sessionEffect(sql)).toEqual({ reason: effect })
  })

  it.for([
    'SET LOCAL statement_timeout = 1',
    'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    "SELECT set_config('app.tenant', 'a', true)",
    'INSERT INTO t VALUES (1)',
    'CREATE TABLE t (a int)',
    'DECLARE c CURSOR FOR SELECT 1',
    'SELECT 1',
    'SHOW timezone',
    "SELECT nextval('s'), pg_advisory_xact_lock(1), lower('X')",
    'SELECT * FROM pg_temp.shadow',
  ])('%s -> none', (sql) => {
    expect(classifier.sessionEffect(sql)).toBeUndefined()
  })

  it('functions that are not known built-ins: named for the catalog to decide (one of the application’s may do anything)', () => {
    expect(classifier.sessionEffect("SELECT my_setup(), dblink_connect('x'), lower('a')")).toEqual({ calls: ['dblink_connect', 'my_setup'] })
    expect(classifier.sessionEffect("SELECT pg_catalog.pg_get_serial_sequence('t', 'id')")).toBeUndefined()
  })

  it('a text the parser cannot read: a cheap test of its keywords, conservative', () => {
    expect(classifier.sessionEffect('SET garbage garbage garbage =')).toEqual({ reason: 'a statement the parser cannot read' })
    expect(classifier.sessionEffect('SELEC 1')).toBeUndefined()
  })
})

describe('sessionEffect: definitions', () => {
  it('a function named in a definition (a check, a default) is not called by it', () => {
    expect(classifier.sessionEffect('CREATE DOMAIN d AS int CHECK (my_check(VALUE))')).toBeUndefined()
    expect(classifier.sessionEffect('CREATE TABLE t (a int DEFAULT my_default())')).toBeUndefined()
    expect(classifier.sessionEffect('CREATE TABLE t2 AS SELECT my_fn() AS a')).toEqual({ calls: ['my_fn'] })
  })
})
