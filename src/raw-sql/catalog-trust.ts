/**
 * What the server's catalog says about the names a raw read uses (src/raw-sql/classify-sql.ts, NamesUsed), so that
 * only PostgreSQL's built-in functions run on a replica, resolved as the server resolves them. The parser sees
 * names; the server resolves them by argument types and `search_path`, and may pick another function than the
 * built-in of that name (`public.lower(int)` for `lower(1)`), or run code the text does not show (a view calling
 * `set_config`, a row-level security policy, a type's I/O). So a plain read goes to a replica only when, by the
 * primary's catalog (ahead of every replica's):
 * - no function of an allowlisted name it calls is defined outside `pg_catalog` for a built-in argument type (an
 *   overload or a function earlier on any `search_path`);
 * - no operator it applies (the comparisons always count) is defined outside `pg_catalog` for a built-in operand;
 * - no relation of a name it reads runs code outside the trusted built-ins when read: a view (or a view over one)
 *   calling another function or an operator outside `pg_catalog`, a table whose row-level security policies do, a
 *   foreign table, a relation with a column of a type whose I/O functions are outside `pg_catalog`;
 * - no type of a name it casts to has I/O functions outside `pg_catalog`, or domain checks calling such code;
 * - no cast between built-in types goes through a function outside `pg_catalog`.
 * Names are matched in every schema, whatever the `search_path`: a conservative rule that no `search_path` can
 * defeat. The trusted built-ins are the `pg_catalog` functions that are allowlisted (src/raw-sql/read-only-
 * functions.ts) or implement a `pg_catalog` operator, a cast or a type's I/O.
 *
 * The facts are read on the router's own connection to the primary: before the first raw read, again once
 * older than `maxAgeMs`, and at once after the application sends the primary a statement that may change the
 * catalog (see {@link mayChangeCatalog}).
 */
import type { ServerLink } from '../server-link.js'
import { within } from '../within.js'
import type { NamesUsed, RawVerdict } from './classify-sql.js'
import { READ_ONLY_FUNCTIONS } from './read-only-functions.js'

/** What the catalog says a plain read may not rely on (see the module's description). */
export interface CatalogFacts {
  /** Functions of one row argument outside the trusted built-ins, which `t.f` may call (functional notation). */
  readonly fieldFunctions: ReadonlySet<string>
  /** Every function name defined outside `pg_catalog` (the application's, an extension's). */
  readonly userFunctions: ReadonlySet<string>
  readonly functions: ReadonlySet<string>
  readonly operators: ReadonlySet<string>
  readonly relations: ReadonlySet<string>
  readonly types: ReadonlySet<string>
  /** A cast between built-in types through a function outside `pg_catalog`: no raw read is trusted. */
  readonly casts: boolean
}

/** The reason the catalog does not let `uses` run on a replica, or `undefined` when it does. */
export function untrusted(uses: NamesUsed, facts: CatalogFacts): string | undefined {
  if (facts.casts) return 'a cast between built-in types through a function outside pg_catalog'
  const first = (names: readonly string[], set: ReadonlySet<string>) => names.find((name) => set.has(name))
  const fn = first(uses.functions, facts.functions)
  if (fn !== undefined) return `function ${fn} is also defined outside pg_catalog`
  const op = first(uses.operators, facts.operators)
  if (op !== undefined) return `operator ${op} is also defined outside pg_catalog`
  const rel = first(uses.relations, facts.relations)
  if (rel !== undefined) return `relation ${rel} runs code outside the built-ins when read`
  const type = first(uses.types, facts.types)
  if (type !== undefined) return `type ${type} runs code outside the built-ins`
  const field = first(uses.fields, facts.fieldFunctions)
  if (field !== undefined) return `.${field} may call function ${field}(row)`
  return undefined
}

const quoted = [...READ_ONLY_FUNCTIONS].map((name) => `'${name}'`).join(',')

/**
 * The catalog query (PostgreSQL 12+), one row per fact, `kind` and `name` (and `sql` for what is checked by
 * parsing it: a view's definition, a row-level security policy's expression, a domain's check; or the type an
 * edge leads to):
 * - `function` / `operator`: an allowlisted function name, or an operator name, defined outside `pg_catalog` for
 *   argument types a built-in value can reach (types whose I/O is the built-ins', or with an implicit cast from
 *   one): the server may resolve the name to it;
 * - `user-function`: a function defined outside `pg_catalog` (whether a statement the application sends may have
 *   left session state, src/raw-sql/raw-trust.ts);
 * - `field-function`: a function of one argument of a row type (composite, a domain, `record` or polymorphic)
 *   that is not a trusted built-in: `t.f` calls `f(t)` where `t` has no column `f`;
 * - `type`: a type that runs code outside `pg_catalog` by itself: its I/O functions (an extension's type:
 *   `citext`, `geometry`), a cast to or from it, or the support functions or operators of its default operator
 *   class (sorting, `DISTINCT`, grouping);
 * - `type-edge` (`name` -> `sql`): a type of the database's and a type it is made of (a domain's base type, an
 *   array's element type, a composite type's attribute types): the former runs what the latter runs;
 * - `relation-edge` (`name` -> `sql`): a relation and the type (not a built-in) of one of its columns;
 * - `relation`: a foreign table, or a view of `pg_catalog` or `information_schema` (they call functions of their own);
 * - `view` (`sql`: its definition), `policy` (`name`: the table, `sql`: the policy's expression), `domain`
 *   (`sql`: a check): parsed and checked like a raw read ({@link catalogFacts}). PostgreSQL records no dependency
 *   on built-in objects, so what a view calls is read from its definition, not from `pg_depend`.
 * - `cast`: a cast between built-in types through a function outside `pg_catalog`.
 */
export const CATALOG_SQL = `
WITH
outside AS (SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace <> 'pg_catalog'::regnamespace),
io AS (
  SELECT t.oid FROM pg_catalog.pg_type t
    WHERE t.typinput::oid IN (SELECT oid FROM outside) OR t.typoutput::oid IN (SELECT oid FROM outside)
       OR t.typreceive::oid IN (SELECT oid FROM outside) OR t.typsend::oid IN (SELECT oid FROM outside)
),
over_io AS (SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typelem IN (SELECT oid FROM io) OR t.typbasetype IN (SELECT oid FROM io)),
bad_type AS (
  SELECT oid FROM io UNION SELECT oid FROM over_io
  UNION SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typelem IN (SELECT oid FROM over_io) OR t.typbasetype IN (SELECT oid FROM over_io)
),
bad AS (SELECT ARRAY(SELECT oid FROM bad_type) AS types),
unreachable AS (
  SELECT ARRAY(
    SELECT b.oid FROM bad_type b WHERE NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_cast c, bad WHERE c.casttarget = b.oid AND c.castcontext = 'i' AND c.castsource <> ALL (bad.types))
  ) AS types
)
SELECT DISTINCT 'function' AS kind, p.proname::text AS name, NULL::text AS sql FROM pg_catalog.pg_proc p, unreachable u
  WHERE p.pronamespace <> 'pg_catalog'::regnamespace AND p.proname IN (${quoted}) AND NOT (p.proargtypes::oid[] && u.types)
UNION ALL SELECT DISTINCT 'operator', o.oprname::text, NULL FROM pg_catalog.pg_operator o, unreachable u
  WHERE o.oprnamespace <> 'pg_catalog'::regnamespace AND o.oprleft <> ALL (u.types) AND o.oprright <> ALL (u.types)
UNION ALL SELECT DISTINCT 'field-function', p.proname::text, NULL FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_type t ON t.oid = p.proargtypes[0]
  WHERE p.pronargs = 1 AND (t.typtype IN ('c', 'd') OR t.typname IN ('record', 'any', 'anyelement', 'anynonarray', 'anycompatible', 'anycompatiblenonarray'))
    AND NOT (p.pronamespace = 'pg_catalog'::regnamespace AND p.proname IN (${quoted}))
UNION ALL SELECT DISTINCT 'user-function', p.proname::text, NULL FROM pg_catalog.pg_proc p
  WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
UNION ALL SELECT DISTINCT 'type', t.typname::text, NULL FROM pg_catalog.pg_type t, bad WHERE t.oid = ANY (bad.types)
UNION ALL SELECT DISTINCT 'type', t.typname::text, NULL FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc
  JOIN pg_catalog.pg_type t ON t.oid IN (c.castsource, c.casttarget)
  WHERE p.pronamespace <> 'pg_catalog'::regnamespace AND t.typnamespace <> 'pg_catalog'::regnamespace
UNION ALL SELECT DISTINCT 'type', t.typname::text, NULL FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_type t ON t.oid = oc.opcintype
  WHERE oc.opcdefault AND (
    EXISTS (SELECT 1 FROM pg_catalog.pg_amproc ap JOIN pg_catalog.pg_proc p ON p.oid = ap.amproc
            WHERE ap.amprocfamily = oc.opcfamily AND p.pronamespace <> 'pg_catalog'::regnamespace)
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
               WHERE ao.amopfamily = oc.opcfamily AND o.oprnamespace <> 'pg_catalog'::regnamespace))
UNION ALL SELECT DISTINCT 'type-edge', t.typname::text, d.typname::text FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_type d ON d.oid = t.typbasetype OR d.oid = t.typelem
  WHERE t.typnamespace <> 'pg_catalog'::regnamespace AND d.typnamespace <> 'pg_catalog'::regnamespace
UNION ALL SELECT DISTINCT 'type-edge', t.typname::text, d.typname::text FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type d ON d.oid = a.atttypid
  WHERE t.typrelid <> 0 AND t.typnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    AND d.typnamespace <> 'pg_catalog'::regnamespace
UNION ALL SELECT DISTINCT 'relation-edge', c.relname::text, d.typname::text FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type d ON d.oid = a.atttypid
  WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    AND d.typnamespace <> 'pg_catalog'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
UNION ALL SELECT DISTINCT 'relation', c.relname::text, NULL FROM pg_catalog.pg_class c
  WHERE c.relkind = 'f' OR (c.relkind = 'v' AND c.relnamespace IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace))
UNION ALL SELECT 'view', c.relname::text, pg_catalog.pg_get_viewdef(c.oid) FROM pg_catalog.pg_class c
  WHERE c.relkind = 'v' AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
UNION ALL SELECT 'policy', c.relname::text, 'SELECT ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'true') FROM pg_catalog.pg_policy p
  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE c.relrowsecurity
UNION ALL SELECT 'domain', t.typname::text, 'SELECT ' || pg_catalog.pg_get_expr(c.conbin, 0) FROM pg_catalog.pg_constraint c
  JOIN pg_catalog.pg_type t ON t.oid = c.contypid WHERE c.contypid <> 0 AND c.contype = 'c'
UNION ALL SELECT 'cast', '', NULL FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc
  JOIN pg_catalog.pg_type s ON s.oid = c.castsource JOIN pg_catalog.pg_type t ON t.oid = c.casttarget
  WHERE p.pronamespace <> 'pg_catalog'::regnamespace AND s.typnamespace = 'pg_catalog'::regnamespace AND t.typnamespace = 'pg_catalog'::regnamespace
`

type Row = Readonly<Record<string, unknown>>

/**
 * The facts from the rows of {@link CATALOG_SQL}. `classify` reads a view's definition, a policy's expression or
 * a domain's check as a raw read (src/raw-sql/classify-sql.ts): one that is not a plain read, or uses an
 * untrusted name, makes its relation or type untrusted; then a type made of an untrusted type, and a relation
 * with a column of one or reading an untrusted relation (a view), are untrusted too (to a fixpoint).
 */
export function catalogFacts(rows: readonly Row[], classify: (sql: string) => RawVerdict): CatalogFacts {
  const fieldFunctions = new Set<string>()
  const userFunctions = new Set<string>()
  const functions = new Set<string>()
  const operators = new Set<string>()
  const relations = new Set<string>()
  const types = new Set<string>()
  let casts = false
  const checked: { kind: string; name: string; uses: NamesUsed | undefined }[] = []
  const edges: { from: Set<string>; name: string; to: string }[] = []
  for (const { kind, name, sql } of rows) {
    if (typeof kind !== 'string' || typeof name !== 'string') continue
    if (kind === 'cast') casts = true
    else if (kind === 'function') functions.add(name)
    else if (kind === 'field-function') fieldFunctions.add(name)
    else if (kind === 'user-function') userFunctions.add(name)
    else if (kind === 'operator') operators.add(name)
    else if (kind === 'type') types.add(name)
    else if (kind === 'relation') relations.add(name)
    else if (typeof sql !== 'string') continue
    else if (kind === 'type-edge') edges.push({ from: types, name, to: sql })
    else if (kind === 'relation-edge') edges.push({ from: relations, name, to: sql })
    else {
      const verdict = classify(sql)
      checked.push({ kind, name, uses: verdict.replica ? verdict.uses : undefined })
    }
  }
  const facts: CatalogFacts = { fieldFunctions, userFunctions, functions, operators, relations, types, casts }
  // Views over views, types made of types: what one relies on may be found untrusted only after another is.
  for (let changed = true; changed;) {
    changed = false
    for (const { kind, name, uses } of checked) {
      const target = kind === 'domain' ? types : relations
      if (target.has(name)) continue
      if (uses === undefined || untrusted(uses, facts) !== undefined) {
        target.add(name)
        changed = true
      }
    }
    for (const { from, name, to } of edges) {
      if (from.has(name) || !types.has(to)) continue
      from.add(name)
      changed = true
    }
  }
  return facts
}

/**
 * True when `sql`, sent to the primary by the application, may change what {@link CATALOG_SQL} reads (DDL of
 * functions, operators, casts, types, views, policies, extensions, schemas, or any `CREATE` / `ALTER` / `DROP`):
 * a cheap test of the text, conservative.
 */
export function mayChangeCatalog(sql: string): boolean {
  return /\b(CREATE|ALTER|DROP|COMMENT|IMPORT|GRANT|REVOKE)\b/i.test(sql)
}

/** The facts, read on the primary's own connection, kept fresh. */
export class CatalogTrust {
  #facts: CatalogFacts | undefined
  #readAt = -Infinity
  /** The {@link invalidate} generation the facts were read in. */
  #factsGeneration = -1
  /** Bumped by {@link invalidate}: facts read by a query started before it are not fresh. */
  #generation = 0
  #reading: Promise<CatalogFacts> | undefined
  #readingGeneration = -1
  /** Catalog queries sent (for tests and stats). */
  queries = 0

  /**
   * @param link the router's own connection to the primary.
   * @param classify the raw-read classifier (views, policies and domain checks are read with it).
   * @param timeoutMs a catalog query past this fails (the raw read then goes to the primary).
   * @param maxAgeMs facts older than this are read again before they are used.
   */
  constructor(
    private readonly link: ServerLink,
    private readonly classify: (sql: string) => RawVerdict,
    private readonly timeoutMs: number,
    private readonly maxAgeMs: number,
  ) {}

  /** The catalog may have changed: the next read of the facts asks the server again. */
  invalidate(): void {
    this.#generation++
  }

  /** Fresh facts: younger than `maxAgeMs` and read after the last {@link invalidate}; one query shared by all. */
  facts(): Promise<CatalogFacts> {
    const facts = this.#facts
    if (facts && this.#factsGeneration === this.#generation && performance.now() - this.#readAt < this.maxAgeMs) return Promise.resolve(facts)
    const generation = this.#generation
    if (this.#reading && this.#readingGeneration === generation) return this.#reading
    const started = performance.now()
    this.queries++
    const reading = within(this.link.query(CATALOG_SQL, true), this.timeoutMs, 'the catalog check of raw reads').then(
      (rows) => {
        const read = catalogFacts(rows, this.classify)
        if (this.#reading === reading) this.#reading = undefined
        // Facts from a query started before an invalidation are not kept as fresh.
        if (generation === this.#generation) {
          this.#facts = read
          this.#factsGeneration = generation
          this.#readAt = started
        }
        return read
      },
      (error: unknown) => {
        if (this.#reading === reading) this.#reading = undefined
        throw error
      },
    )
    this.#reading = reading
    this.#readingGeneration = generation
    return reading
  }
}
