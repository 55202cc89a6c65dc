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
  ] as const)('%s -> %s', ([sql, effect]) => {
    expect(classifier.sessionEffect(sql)).toBe(effect)
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
  ])('%s -> none', (sql) => {
    expect(classifier.sessionEffect(sql)).toBeUndefined()
  })

  it('a text the parser cannot read: a cheap test of its keywords, conservative', () => {
    expect(classifier.sessionEffect('SET garbage garbage garbage =')).toBe('a statement the parser cannot read')
    expect(classifier.sessionEffect('SELEC 1')).toBeUndefined()
  })
})
