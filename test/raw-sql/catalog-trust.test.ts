import { beforeAll, describe, expect, it } from 'vitest'
import { catalogFacts, CatalogTrust, mayChangeCatalog, untrusted } from '../../src/raw-sql/catalog-trust.ts'
import { SqlClassifier } from '../../src/raw-sql/classify-sql.ts'
import type { Row, ServerLink } from '../../src/server-link.ts'

const classifier = new SqlClassifier()
beforeAll(async () => {
  await classifier.load()
})
const classify = (sql: string) => classifier.classify(sql)
const uses = (sql: string) => {
  const verdict = classify(sql)
  if (!verdict.replica) throw new Error(verdict.reason)
  return verdict.uses
}

describe('catalogFacts (rows as CATALOG_SQL returns them; the query itself is proven on the cluster in raw-queries.db.test.ts)', () => {
  it('functions, operators, types and relations by name; a cast makes nothing trusted', () => {
    const facts = catalogFacts(
      [
        { kind: 'function', name: 'lower', sql: null },
        { kind: 'operator', name: '+', sql: null },
        { kind: 'type', name: 'citext', sql: null },
        { kind: 'relation', name: 'remote_orders', sql: null },
        { kind: 'field-function', name: 'full_name', sql: null },
      ],
      classify,
    )
    expect(untrusted(uses('SELECT u.full_name FROM users u'), facts)).toBe('.full_name may call function full_name(row)')
    expect(untrusted(uses('SELECT lower(a) FROM t'), facts)).toBe('function lower is also defined outside pg_catalog')
    expect(untrusted(uses('SELECT pg_catalog.lower(a) FROM t'), facts)).toBeUndefined()
    expect(untrusted(uses('SELECT a + 1 FROM t'), facts)).toBe('operator + is also defined outside pg_catalog')
    expect(untrusted(uses("SELECT 'x'::citext"), facts)).toBe('type citext runs code outside the built-ins')
    expect(untrusted(uses('SELECT * FROM s.remote_orders'), facts)).toBe('relation remote_orders runs code outside the built-ins when read')
    expect(untrusted(uses('SELECT upper(a) FROM t WHERE b = 1'), facts)).toBeUndefined()
    expect(untrusted(uses('SELECT 1'), catalogFacts([{ kind: 'cast', name: '', sql: null }], classify))).toBe('a cast between built-in types through a function outside pg_catalog')
  })

  it('views, policies and domain checks are read as raw reads; a view over an untrusted view is untrusted (to a fixpoint)', () => {
    const facts = catalogFacts(
      [
        { kind: 'function', name: 'upper', sql: null },
        { kind: 'view', name: 'top', sql: ' SELECT middle.a FROM middle;' },
        { kind: 'view', name: 'middle', sql: ' SELECT bottom.a FROM bottom;' },
        { kind: 'view', name: 'bottom', sql: " SELECT set_config('a', 'b', false) AS a;" },
        { kind: 'view', name: 'clean', sql: ' SELECT lower(t.a) AS a FROM t;' },
        { kind: 'view', name: 'shadowed', sql: ' SELECT upper(t.a) AS a FROM t;' },
        { kind: 'policy', name: 'tenants', sql: 'SELECT (owner = current_user)' },
        { kind: 'policy', name: 'audited', sql: 'SELECT audit(owner)' },
        { kind: 'domain', name: 'positive', sql: 'SELECT (VALUE > 0)' },
        { kind: 'domain', name: 'checked', sql: 'SELECT check_it(VALUE)' },
      ],
      classify,
    )
    expect([...facts.relations].sort()).toEqual(['audited', 'bottom', 'middle', 'shadowed', 'top'])
    expect([...facts.types]).toEqual(['checked'])
  })

  it('a type made of an untrusted type is untrusted, and so is a relation with a column of one (to a fixpoint)', () => {
    const facts = catalogFacts(
      [
        { kind: 'type', name: 'citext', sql: null },
        { kind: 'domain', name: 'checked', sql: 'SELECT check_it(VALUE)' },
        { kind: 'type-edge', name: 'over_checked', sql: 'checked' }, // a domain over a domain
        { kind: 'type-edge', name: '_citext', sql: 'citext' }, // an array
        { kind: 'type-edge', name: 'pair', sql: 'over_checked' }, // a composite type with such an attribute
        { kind: 'relation-edge', name: 'pairs', sql: 'pair' },
        { kind: 'relation-edge', name: 'names', sql: '_citext' },
        { kind: 'relation-edge', name: 'roles', sql: 'role' }, // an enum, trusted
        { kind: 'view', name: 'over_pairs', sql: ' SELECT p.a FROM pairs p;' },
      ],
      classify,
    )
    expect([...facts.types].sort()).toEqual(['_citext', 'checked', 'citext', 'over_checked', 'pair'])
    expect([...facts.relations].sort()).toEqual(['names', 'over_pairs', 'pairs'])
  })
})

describe('mayChangeCatalog', () => {
  it.for([
    ['CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', true],
    ['create or replace view v as select 1', true],
    ['ALTER TABLE t ENABLE ROW LEVEL SECURITY', true],
    ['DROP EXTENSION citext', true],
    ['INSERT INTO t VALUES (1)', false],
    ['SELECT 1', false],
  ] as const)('%s -> %s', ([sql, expected]) => {
    expect(mayChangeCatalog(sql)).toBe(expected)
  })
})

/** A link that answers CATALOG_SQL with `rows`, counting queries; `gate` holds an answer until released. */
function link(rows: Row[]) {
  const state = { queries: 0, gate: undefined as Promise<void> | undefined }
  const serverLink: ServerLink = {
    own: true,
    open: true,
    query: async () => {
      state.queries++
      await state.gate
      return rows
    },
    reconnect: () => undefined,
    reset: () => undefined,
    release: () => undefined,
    close: () => Promise.resolve(),
  }
  return { serverLink, state }
}

describe('CatalogTrust', () => {
  it('reads the facts once while fresh, shares a query in flight, reads again after invalidate()', async () => {
    const { serverLink, state } = link([{ kind: 'function', name: 'lower' }])
    const trust = new CatalogTrust(serverLink, classify, 1000, 60_000)
    const [a, b] = await Promise.all([trust.facts(), trust.facts()])
    expect(a).toBe(b)
    expect(state.queries).toBe(1)
    await trust.facts()
    expect(state.queries).toBe(1)
    trust.invalidate()
    await trust.facts()
    expect(state.queries).toBe(2)
  })

  it('facts older than maxAgeMs are read again', async () => {
    const { serverLink, state } = link([])
    const trust = new CatalogTrust(serverLink, classify, 1000, 0)
    await trust.facts()
    await trust.facts()
    expect(state.queries).toBe(2)
  })

  it('facts from a query started before an invalidation are not kept: the next call asks again', async () => {
    const { serverLink, state } = link([])
    const trust = new CatalogTrust(serverLink, classify, 1000, 60_000)
    let release: () => void = () => undefined
    state.gate = new Promise((resolve) => {
      release = resolve
    })
    const first = trust.facts()
    trust.invalidate()
    release()
    await first
    state.gate = undefined
    await trust.facts()
    expect(state.queries).toBe(2)
  })

  it('a query that fails is not kept: the caller gets the error, the next call asks again', async () => {
    let fail = true
    const serverLink: ServerLink = { ...link([]).serverLink, query: () => (fail ? Promise.reject(new Error('down')) : Promise.resolve([])) }
    const trust = new CatalogTrust(serverLink, classify, 1000, 60_000)
    await expect(trust.facts()).rejects.toThrow('down')
    fail = false
    await expect(trust.facts()).resolves.toMatchObject({ casts: false })
  })
})
