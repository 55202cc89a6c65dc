/**
 * Statements that change the session they run in, beyond their transaction: a raw statement the application sent
 * to the primary that does this leaves state on one of the primary pool's connections (a setting, a temporary
 * table, a prepared statement, a held cursor) that a replica's sessions do not have, so that a raw read there
 * could answer otherwise than on the primary. Pure: reads a parse tree of `libpg-query`'s `parseSync()`.
 */

import { READ_ONLY_FUNCTIONS } from './read-only-functions.js'

type Json = Readonly<Record<string, unknown>>

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** `DECLARE … CURSOR WITH HOLD` (PostgreSQL's CURSOR_OPT_HOLD). */
const CURSOR_OPT_HOLD = 0x20

/** Statements that leave session state, or may (procedural code the router cannot see into). */
const SESSION_STATEMENTS: Readonly<Record<string, string>> = {
  DiscardStmt: 'DISCARD',
  ListenStmt: 'LISTEN',
  UnlistenStmt: 'UNLISTEN',
  PrepareStmt: 'PREPARE',
  DeallocateStmt: 'DEALLOCATE',
  LoadStmt: 'LOAD',
  DoStmt: 'a DO block',
  CallStmt: 'CALL',
}

/**
 * Functions a statement may call without leaving state its session's later raw reads could see: the read-only
 * built-ins, and built-ins whose effect is the transaction's, the database's (a sequence, a notification) or a
 * lock's. Any other function (yours, `dblink_connect`, `set_config` with `is_local` false) may.
 */
const SESSION_NEUTRAL: ReadonlySet<string> = new Set([
  ...READ_ONLY_FUNCTIONS,
  'current_setting',
  'nextval',
  'setval',
  'currval',
  'lastval',
  'pg_advisory_lock',
  'pg_advisory_unlock',
  'pg_advisory_xact_lock',
  'pg_try_advisory_lock',
  'pg_try_advisory_xact_lock',
  'pg_advisory_lock_shared',
  'pg_advisory_unlock_shared',
  'pg_advisory_xact_lock_shared',
  'pg_advisory_unlock_all',
  'pg_notify',
  'txid_current',
  'pg_current_xact_id',
  'pg_sleep',
  'set_config', // judged by its third argument (below)
])

/** The last part of a name list (`[{ String: { sval } }]`), and its schema when qualified. */
function nameOf(list: unknown): { schema: string | undefined; name: string | undefined } {
  const parts = Array.isArray(list) ? (list as unknown[]).map((part) => (isObject(part) && isObject(part.String) ? part.String.sval : undefined)) : []
  const name = parts.at(-1)
  const schema = parts.length > 1 ? parts[0] : undefined
  return { schema: typeof schema === 'string' ? schema : undefined, name: typeof name === 'string' ? name : undefined }
}

/**
 * Why a function call may leave session state (`string`), the name of a function it calls that the catalog must
 * say is a built-in (`{ call }`: one of the application's may do anything), or `undefined`.
 */
function callEffect(call: Json): string | { readonly call: string } | undefined {
  const { schema, name } = nameOf(call.funcname)
  if (name === undefined) return 'a function call'
  if (schema === 'pg_temp') return 'a temporary function'
  if (schema !== undefined && schema !== 'pg_catalog') return `function ${schema}.${name}`
  if (name === 'set_config') {
    const local: unknown = Array.isArray(call.args) ? (call.args as unknown[])[2] : undefined
    return isObject(local) && isObject(local.A_Const) && isObject(local.A_Const.boolval) && local.A_Const.boolval.boolval === true ? undefined : 'set_config(…, false)'
  }
  return SESSION_NEUTRAL.has(name) || schema === 'pg_catalog' ? undefined : { call: name }
}

/** Why `node` changes its session (`SET intervalstyle`, `CREATE TEMP`, …), a function it calls, or `undefined`. */
function nodeEffect(node: Json): string | { readonly call: string } | undefined {
  for (const [kind, what] of Object.entries(SESSION_STATEMENTS)) if (node[kind] !== undefined) return what
  const set = node.VariableSetStmt
  if (isObject(set) && set.is_local !== true && set.name !== 'TRANSACTION') {
    return set.kind === 'VAR_RESET_ALL' ? 'RESET ALL' : `${String(set.kind).startsWith('VAR_RESET') ? 'RESET' : 'SET'} ${typeof set.name === 'string' ? set.name : ''}`.trim()
  }
  const cursor = node.DeclareCursorStmt
  if (isObject(cursor) && typeof cursor.options === 'number' && (cursor.options & CURSOR_OPT_HOLD) !== 0) return 'DECLARE … WITH HOLD'
  if (node.relpersistence === 't') return 'a temporary relation'
  // `pg_temp.x` names a temporary object whatever the statement says of persistence.
  if (node.schemaname === 'pg_temp' && (node.relpersistence !== undefined || node.relname !== undefined)) return 'a temporary relation'
  if (isObject(node.CreateFunctionStmt) && nameOf(node.CreateFunctionStmt.funcname).schema === 'pg_temp') return 'a temporary function'
  if (isObject(node.FuncCall)) return callEffect(node.FuncCall)
  return undefined
}

/**
 * What the statements of `tree` do to their session beyond their transaction: `reason`, why they change it or
 * may (procedural code); else `calls`, the functions they call that are not known built-ins without such an
 * effect (the caller asks the catalog whether one is the application's, which may do anything); `undefined` when
 * neither (or the tree cannot be read: the server would have refused the text too). The whole tree is walked; a
 * read of `pg_temp.x` is not a change.
 */
export type SessionEffect = { readonly reason: string } | { readonly calls: readonly string[] }

export function sessionEffect(tree: unknown): SessionEffect | undefined {
  const stmts = isObject(tree) && Array.isArray(tree.stmts) ? (tree.stmts as unknown[]) : []
  // A plain SELECT naming `pg_temp` reads it; it changes nothing.
  const reads = stmts.length > 0 && stmts.every((s) => isObject(s) && isObject(s.stmt) && isObject(s.stmt.SelectStmt) && s.stmt.SelectStmt.intoClause === undefined)
  const calls = new Set<string>()
  for (const raw of stmts) {
    const stmt = isObject(raw) ? raw.stmt : undefined
    const kind = isObject(stmt) ? Object.keys(stmt)[0] : undefined
    // Only statements that run their expressions call functions (DDL keeps a default or a check for later).
    const runs = kind !== undefined && RUNS_EXPRESSIONS.has(kind)
    const pending: unknown[] = [stmt]
    while (pending.length > 0) {
      const node = pending.pop()
      if (isObject(node)) {
        const effect = nodeEffect(node)
        if (typeof effect === 'object') {
          if (runs) calls.add(effect.call)
        } else if (effect !== undefined && !(reads && effect === 'a temporary relation')) return { reason: effect }
      }
      if (typeof node === 'object' && node !== null) for (const child of Object.values(node)) pending.push(child)
    }
  }
  return calls.size === 0 ? undefined : { calls: [...calls].sort() }
}

/** Statements that evaluate the expressions in them when they run (the rest define objects). */
const RUNS_EXPRESSIONS: ReadonlySet<string> = new Set([
  'SelectStmt',
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'CreateTableAsStmt',
  'RefreshMatViewStmt',
  'ExplainStmt',
  'CopyStmt',
  'DeclareCursorStmt',
  'ExecuteStmt',
  'CallStmt',
  'DoStmt',
])
