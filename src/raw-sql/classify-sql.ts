import { ReplicaRouterError } from '../errors/replica-router-error.js'
import { READ_ONLY_FUNCTIONS } from './read-only-functions.js'
import { sessionEffect, type SessionEffect } from './session-state.js'
import { loadSqlParser, type SqlParser } from './sql-parser.js'

/**
 * The names a plain read refers to whose meaning is the server's to resolve (by its catalog and `search_path`):
 * what src/raw-sql/catalog-trust.ts checks against the server's catalog before the read may run on a replica.
 * Names are unqualified (a name qualified with `pg_catalog` resolves there only and is not listed).
 */
export interface NamesUsed {
  /** Functions called (allowlisted names, called unqualified). */
  readonly functions: readonly string[]
  /** Operators applied, the comparison operators always among them (`IN`, `BETWEEN`, `CASE`, sorting use them). */
  readonly operators: readonly string[]
  /** Tables, views and CTEs read (a CTE's name too: conservative). */
  readonly relations: readonly string[]
  /** Types cast to (`::t`, `CAST(… AS t)`), and any other type named. */
  readonly types: readonly string[]
  /**
   * Field names selected from a row (`t.f`, `(t).f`): where a relation has no such column, the server calls a
   * function `f(t)` (functional notation).
   */
  readonly fields: readonly string[]
}

/** Where a raw statement may run: on a replica, or on the primary and why (short text, e.g. `FOR UPDATE`). */
export type RawVerdict =
  | { readonly replica: true; readonly uses: NamesUsed }
  | {
      readonly replica: false
      readonly reason: string
      /** A plain read that a replica cannot serve (0A000: an unlogged table): fine in a read-only transaction. */
      readonly readsOnly?: true
    }

const primary = (reason: string): RawVerdict => Object.freeze({ replica: false, reason })

/** `LockingClause.strength` as written in SQL. */
const LOCKS: Readonly<Record<string, string>> = {
  LCS_FORKEYSHARE: 'FOR KEY SHARE',
  LCS_FORSHARE: 'FOR SHARE',
  LCS_FORNOKEYUPDATE: 'FOR NO KEY UPDATE',
  LCS_FORUPDATE: 'FOR UPDATE',
}

type Json = Readonly<Record<string, unknown>>

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** The single key of a node (`{ SelectStmt: {…} }` → `SelectStmt`), or `undefined`. */
function kindOf(node: unknown): string | undefined {
  if (!isObject(node)) return undefined
  const keys = Object.keys(node)
  return keys.length === 1 ? keys[0] : undefined
}

/** `SELECT … FOR UPDATE` and the like, anywhere; `reason` of the first one. */
function lockOf(clauses: unknown): string | undefined {
  if (clauses === undefined || (Array.isArray(clauses) && clauses.length === 0)) return undefined
  const first: unknown = Array.isArray(clauses) ? clauses[0] : undefined
  const strength = isObject(first) && isObject(first.LockingClause) ? first.LockingClause.strength : undefined
  return (typeof strength === 'string' ? LOCKS[strength] : undefined) ?? 'locking clause'
}

/** The parts of a qualified name (`[{ String: { sval } }, …]`), or `undefined` when one is not a string. */
function nameParts(list: unknown): string[] | undefined {
  const parts = Array.isArray(list) ? list.map((part: unknown) => (isObject(part) && isObject(part.String) ? part.String.sval : undefined)) : []
  const names = parts.filter((part): part is string => typeof part === 'string')
  return names.length === 0 || names.length !== parts.length ? undefined : names
}

/** The comparison operators: every statement is taken to use them (`IN`, `BETWEEN`, `CASE`, `DISTINCT`, sorting). */
const COMPARISONS = ['=', '<>', '<', '>', '<=', '>=']

/** `A_Expr` kinds whose `name` is a keyword, not an operator (the comparisons they use are always counted). */
const KEYWORD_EXPRESSIONS = new Set(['AEXPR_BETWEEN', 'AEXPR_NOT_BETWEEN', 'AEXPR_BETWEEN_SYM', 'AEXPR_NOT_BETWEEN_SYM'])

/** The names a statement uses, as they are collected. */
interface Collected {
  readonly functions: Set<string>
  readonly operators: Set<string>
  readonly relations: Set<string>
  readonly types: Set<string>
  readonly fields: Set<string>
}

/** The field names of a `ColumnRef` qualified by a row (`t.f` -> `f`) or of an `A_Indirection` (`(t).f`), collected. */
function collectFields(list: unknown, qualified: boolean, uses: Collected): void {
  if (!Array.isArray(list) || (qualified && list.length < 2)) return
  const last: unknown = list.at(-1)
  if (isObject(last) && isObject(last.String) && typeof last.String.sval === 'string') uses.fields.add(last.String.sval)
}

/**
 * `undefined` for an allowlisted function name (`[name]` or `['pg_catalog', name]`; an unqualified one is
 * collected, for the catalog's check), else the reason.
 */
function functionVerdict(funcname: unknown, uses: Collected): string | undefined {
  const names = nameParts(funcname)
  if (names === undefined) return 'unreadable function name'
  const [schema, name] = names.length === 2 ? names : [undefined, names[0]]
  const known = names.length <= 2 && (schema === undefined || schema === 'pg_catalog') && name !== undefined && READ_ONLY_FUNCTIONS.has(name)
  if (!known) return `function ${names.join('.')}`
  if (schema === undefined) uses.functions.add(name)
  return undefined
}

/** `undefined` for an operator name (collected when unqualified; `OPERATOR(pg_catalog.+)` resolves there), else the reason. */
function operatorVerdict(list: unknown, uses: Collected): string | undefined {
  const names = nameParts(list)
  if (names === undefined) return 'unreadable operator name'
  if (names.length === 1) uses.operators.add(names[0] ?? '')
  else if (names.length !== 2 || names[0] !== 'pg_catalog') return `operator ${names.join('.')}`
  return undefined
}

/** A type named in the statement (`TypeName.names`): its last part, collected. */
function collectType(typeName: unknown, uses: Collected): void {
  const names = isObject(typeName) ? nameParts(typeName.names) : undefined
  const name = names?.at(-1)
  if (name !== undefined && !(names?.length === 2 && names[0] === 'pg_catalog')) uses.types.add(name)
}

/** The reason a node (and everything under it) may not run on a replica, or `undefined` when it may. */
function objectVerdict(node: Json, uses: Collected): string | undefined {
  if (node.intoClause !== undefined) return 'SELECT INTO'
  const lock = lockOf(node.lockingClause)
  if (lock !== undefined) return lock
  if (isObject(node.FuncCall)) return functionVerdict(node.FuncCall.funcname, uses)
  if (isObject(node.A_Expr) && !KEYWORD_EXPRESSIONS.has(String(node.A_Expr.kind)) && node.A_Expr.name !== undefined) return operatorVerdict(node.A_Expr.name, uses)
  if (isObject(node.SubLink) && node.SubLink.operName !== undefined) return operatorVerdict(node.SubLink.operName, uses)
  if (isObject(node.SortBy) && node.SortBy.useOp !== undefined) return operatorVerdict(node.SortBy.useOp, uses)
  if (isObject(node.RangeVar) && typeof node.RangeVar.relname === 'string') uses.relations.add(node.RangeVar.relname)
  if (isObject(node.ColumnRef)) collectFields(node.ColumnRef.fields, true, uses)
  if (isObject(node.A_Indirection)) collectFields(node.A_Indirection.indirection, false, uses)
  if (isObject(node.TypeName)) collectType(node.TypeName, uses)
  if (node.typeName !== undefined) collectType(node.typeName, uses)
  if (isObject(node.CommonTableExpr)) {
    const kind = kindOf(node.CommonTableExpr.ctequery)
    if (kind !== 'SelectStmt') return `writable CTE (${kind?.replace(/Stmt$/, '').toUpperCase() ?? 'unknown'})`
  }
  const nested = Object.keys(node).find((key) => /^[A-Z]\w*Stmt$/.test(key) && key !== 'SelectStmt')
  return nested === undefined ? undefined : `nested ${nested}`
}

/**
 * Whether a parse tree of `libpg-query`'s `parseSync()` is provably a plain read, fit for a hot standby. Pure.
 * Replica only for exactly one `SELECT` (`VALUES` and `TABLE t` parse as one, and so do `UNION`, `INTERSECT`
 * and `EXCEPT`) in which nothing, at any depth (subqueries, CTEs, set operations), has `INTO`, a locking
 * clause (`FOR UPDATE`, `FOR SHARE`…), a CTE other than a `SELECT` (`WITH d AS (DELETE … RETURNING *)`), or a
 * call of a function outside {@link READ_ONLY_FUNCTIONS}. The whole tree is walked, whatever its node kinds, so
 * kinds a later parser adds are checked too. Anything else (`EXPLAIN`, `SHOW`, `CALL`, DML, DDL…) is for the
 * primary.
 */
export function classifyParsed(tree: unknown): RawVerdict {
  const stmts = isObject(tree) ? tree.stmts : undefined
  if (!Array.isArray(stmts)) return primary('parse error')
  if (stmts.length !== 1) return primary(`${String(stmts.length)} statements`)
  const raw: unknown = stmts[0]
  const stmt = isObject(raw) ? raw.stmt : undefined
  const kind = kindOf(stmt)
  if (kind !== 'SelectStmt') return primary(`not a single SELECT (${kind ?? 'unknown'})`)
  const uses: Collected = { functions: new Set(), operators: new Set(COMPARISONS), relations: new Set(), types: new Set(), fields: new Set() }
  // Every object and array under the statement, whatever its kind (iterative: no recursion depth to exhaust).
  const pending: unknown[] = [stmt]
  while (pending.length > 0) {
    const node = pending.pop()
    if (isObject(node)) {
      const reason = objectVerdict(node, uses)
      if (reason !== undefined) return primary(reason)
    }
    // One push per child: spreading a huge `VALUES` list as arguments could overflow the stack.
    if (typeof node === 'object' && node !== null) for (const child of Object.values(node)) pending.push(child)
  }
  const list = (set: Set<string>): readonly string[] => Object.freeze([...set].sort())
  return Object.freeze({
    replica: true,
    uses: Object.freeze({
      functions: list(uses.functions),
      operators: list(uses.operators),
      relations: list(uses.relations),
      types: list(uses.types),
      fields: list(uses.fields),
    }),
  })
}

/** Options of a {@link SqlClassifier}. */
export interface SqlClassifierOptions {
  /**
   * Verdicts kept, one per SQL text; the oldest is dropped when full.
   * @default 1000
   */
  readonly cacheEntries?: number | undefined
  /**
   * Longest text whose verdict is kept (characters); longer texts are parsed every time.
   * @default 16384
   */
  readonly maxCachedLength?: number | undefined
}

/**
 * Classifies raw SQL texts with PostgreSQL's own parser (`libpg-query`, loaded by {@link SqlClassifier.load}),
 * keeping each text's verdict. A syntax error goes to the primary, which reports it as it would anyway.
 */
export class SqlClassifier {
  readonly #cache = new Map<string, RawVerdict>()
  readonly #cacheEntries: number
  readonly #maxCachedLength: number
  #parser: SqlParser | undefined
  #parsed = 0
  #cached = 0

  constructor(options: SqlClassifierOptions = {}) {
    this.#cacheEntries = options.cacheEntries ?? 1000
    this.#maxCachedLength = options.maxCachedLength ?? 16_384
  }

  /** True once {@link SqlClassifier.load} has resolved: {@link SqlClassifier.classify} may be called. */
  get ready(): boolean {
    return this.#parser !== undefined
  }

  /** Texts parsed (cache misses). */
  get parsed(): number {
    return this.#parsed
  }

  /** Verdicts served from the cache (hits). */
  get cached(): number {
    return this.#cached
  }

  /** Verdicts in the cache now. */
  get size(): number {
    return this.#cache.size
  }

  /**
   * Loads the parser (once per process).
   * @throws ReplicaRouterError when `libpg-query` is not installed.
   */
  async load(): Promise<void> {
    this.#parser ??= await loadSqlParser()
  }

  /**
   * The verdict for one raw SQL text, as sent to the database (with `$1` parameters).
   * @throws ReplicaRouterError before {@link SqlClassifier.load} has resolved.
   */
  classify(sql: string): RawVerdict {
    const hit = this.#cache.get(sql)
    if (hit !== undefined) {
      this.#cached++
      return hit
    }
    if (this.#parser === undefined) throw new ReplicaRouterError('SqlClassifier.classify() called before load() resolved')
    this.#parsed++
    const verdict = this.#verdict(this.#parser, sql)
    if (sql.length <= this.#maxCachedLength && this.#cacheEntries > 0) {
      if (this.#cache.size >= this.#cacheEntries) this.#cache.delete(this.#cache.keys().next().value as string)
      this.#cache.set(sql, verdict)
    }
    return verdict
  }

  /**
   * Sends `sql` to the primary from now on: a replica refused it as a write (SQLSTATE 25006), which the text
   * could not show (a view or an operator that calls a writing function).
   */
  demote(sql: string, reason: string, readsOnly = false): void {
    this.#served.delete(sql)
    if (sql.length > this.#maxCachedLength || this.#cacheEntries === 0) return
    this.#cache.delete(sql)
    if (this.#cache.size >= this.#cacheEntries) this.#cache.delete(this.#cache.keys().next().value as string)
    this.#cache.set(sql, readsOnly ? Object.freeze({ replica: false, reason, readsOnly: true }) : primary(reason))
  }

  /** Texts a replica has served (it refused nothing in them): proven plain reads, whatever they call. */
  readonly #served = new Set<string>()

  /** A replica served `sql`: it wrote nothing there (a hot standby refuses writes). */
  markServed(sql: string): void {
    if (this.#served.has(sql) || sql.length > this.#maxCachedLength || this.#cacheEntries === 0) return
    if (this.#served.size >= this.#cacheEntries) this.#served.delete(this.#served.values().next().value as string)
    this.#served.add(sql)
  }

  /** Whether a replica has served `sql` (see {@link SqlClassifier.markServed}). */
  served(sql: string): boolean {
    return this.#served.has(sql)
  }

  /** Effects on the session of texts sent to the primary (see {@link SqlClassifier.sessionEffect}), bounded like verdicts. */
  readonly #effects = new Map<string, SessionEffect | null>()

  /**
   * What `sql` (a raw statement the application sent to the primary) does to the session it ran in beyond its
   * transaction (src/raw-sql/session-state.ts), or `undefined`. For a text the parser cannot read, a cheap test
   * of the text looks for the keywords (conservative).
   * @throws ReplicaRouterError before {@link SqlClassifier.load} has resolved.
   */
  sessionEffect(sql: string): SessionEffect | undefined {
    const hit = this.#effects.get(sql)
    if (hit !== undefined) return hit ?? undefined
    if (this.#parser === undefined) throw new ReplicaRouterError('SqlClassifier.sessionEffect() called before load() resolved')
    let effect: SessionEffect | undefined
    try {
      effect = sessionEffect(this.#parser.parseSync(sql))
    } catch {
      effect = /\b(SET|RESET|DISCARD|LISTEN|PREPARE|LOAD|TEMP|TEMPORARY|HOLD|DO|CALL|set_config)\b/i.test(sql) ? { reason: 'a statement the parser cannot read' } : undefined
    }
    if (sql.length <= this.#maxCachedLength && this.#cacheEntries > 0) {
      if (this.#effects.size >= this.#cacheEntries) this.#effects.delete(this.#effects.keys().next().value as string)
      this.#effects.set(sql, effect ?? null)
    }
    return effect
  }

  #verdict(parser: SqlParser, sql: string): RawVerdict {
    // The parser reads backslashes as `standard_conforming_strings = on` does; a server (or a session) with it
    // off reads `'\'` differently, so the statement it runs could be another one.
    if (sql.includes('\\')) return primary('backslash (standard_conforming_strings may be off)')
    let tree: unknown
    try {
      tree = parser.parseSync(sql)
    } catch {
      return primary('parse error')
    }
    return classifyParsed(tree)
  }
}
