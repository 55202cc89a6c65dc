import { ReplicaRouterError } from '../errors/replica-router-error.js'

/** The part of `libpg-query` (PostgreSQL's own parser, compiled to WebAssembly) the classifier uses. */
export interface SqlParser {
  /** The parse tree of `sql` as JSON (`{ version, stmts: [{ stmt: { SelectStmt: … } }] }`); throws on a syntax error. */
  parseSync(sql: string): unknown
}

let loading: Promise<SqlParser> | undefined

/**
 * Loads `libpg-query`, an optional peer dependency, on first use only (later calls share the same promise).
 * @throws ReplicaRouterError when the package cannot be imported (not installed); a later call tries again.
 */
export function loadSqlParser(): Promise<SqlParser> {
  loading ??= importParser().catch((error: unknown) => {
    loading = undefined
    throw error
  })
  return loading
}

async function importParser(): Promise<SqlParser> {
  let parser: typeof import('libpg-query')
  try {
    parser = await import('libpg-query')
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error)
    throw new ReplicaRouterError(`\`raw: 'classify'\` needs the optional peer dependency \`libpg-query\` (npm install libpg-query): ${cause}`, { cause: error })
  }
  await parser.loadModule()
  return { parseSync: (sql) => parser.parseSync(sql) as unknown }
}
