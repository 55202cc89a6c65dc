/**
 * Statements that change the session they run in, beyond their transaction: a raw statement the application sent
 * to the primary that does this leaves state on one of the primary pool's connections (a setting, a temporary
 * table, a prepared statement, a held cursor) that a replica's sessions do not have, so that a raw read there
 * could answer otherwise than on the primary. Pure: reads a parse tree of `libpg-query`'s `parseSync()`.
 */

type Json = Readonly<Record<string, unknown>>

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

/** `DECLARE … CURSOR WITH HOLD` (PostgreSQL's CURSOR_OPT_HOLD). */
const CURSOR_OPT_HOLD = 0x20

/** Statements that always leave session state. */
const SESSION_STATEMENTS: Readonly<Record<string, string>> = {
  DiscardStmt: 'DISCARD',
  ListenStmt: 'LISTEN',
  UnlistenStmt: 'UNLISTEN',
  PrepareStmt: 'PREPARE',
  DeallocateStmt: 'DEALLOCATE',
  LoadStmt: 'LOAD',
}

/** A `set_config(name, value, is_local)` call whose `is_local` is not the literal `true`. */
function sessionSetConfig(call: Json): boolean {
  const name = Array.isArray(call.funcname) ? (call.funcname as unknown[]).at(-1) : undefined
  if (!isObject(name) || !isObject(name.String) || name.String.sval !== 'set_config') return false
  const local: unknown = Array.isArray(call.args) ? (call.args as unknown[])[2] : undefined
  return !(isObject(local) && isObject(local.A_Const) && isObject(local.A_Const.boolval) && local.A_Const.boolval.boolval === true)
}

/** Why `node` changes its session (`SET intervalstyle`, `CREATE TEMP`, …), or `undefined`. */
function nodeEffect(node: Json): string | undefined {
  for (const [kind, what] of Object.entries(SESSION_STATEMENTS)) if (node[kind] !== undefined) return what
  const set = node.VariableSetStmt
  if (isObject(set) && set.is_local !== true && set.name !== 'TRANSACTION') {
    return set.kind === 'VAR_RESET_ALL' ? 'RESET ALL' : `${String(set.kind).startsWith('VAR_RESET') ? 'RESET' : 'SET'} ${typeof set.name === 'string' ? set.name : ''}`.trim()
  }
  const cursor = node.DeclareCursorStmt
  if (isObject(cursor) && typeof cursor.options === 'number' && (cursor.options & CURSOR_OPT_HOLD) !== 0) return 'DECLARE … WITH HOLD'
  if (node.relpersistence === 't') return 'a temporary relation'
  if (isObject(node.FuncCall) && sessionSetConfig(node.FuncCall)) return 'set_config(…, false)'
  return undefined
}

/**
 * Why the statements of `tree` change their session beyond their transaction, or `undefined` when they do not
 * (or the tree cannot be read: the server would have refused the text too). The whole tree is walked.
 */
export function sessionEffect(tree: unknown): string | undefined {
  const pending: unknown[] = [tree]
  while (pending.length > 0) {
    const node = pending.pop()
    if (isObject(node)) {
      const effect = nodeEffect(node)
      if (effect !== undefined) return effect
    }
    if (typeof node === 'object' && node !== null) for (const child of Object.values(node)) pending.push(child)
  }
  return undefined
}
