/**
 * Every query the primary's PrismaClient sends, whichever client object sent it: the routed client, the client
 * under it, or a client an extension captured (`Prisma.defineExtension((client) => …)` applied before the router,
 * a model method that writes through the client it closed over). They all share one query engine
 * (src/prisma/internals.ts, engineOf), so the router wraps its `request`, `requestBatch` and `transaction` once and
 * hears of each query when it has settled, in the async context of the code that sent it: the `runInScope` scope
 * of the request, so that a write through any of those clients counts for that scope's read-your-writes.
 *
 * - A query outside an interactive transaction: a write (any action but a model read: raw queries count as
 *   writes, as everywhere in the router) when it settles, succeeded or not; a read otherwise.
 * - In an interactive transaction: nothing until its outermost commit (or rollback) settles; then a write if a
 *   query in it may have written (nested transactions are savepoints of the same one), else a read.
 * - A raw statement's SQL text is told too, when it settles (in a transaction or not): the raw-read trust
 *   (src/raw-sql/raw-trust.ts) learns of catalog changes and session state on the primary from it.
 * - The router's own queries on the primary's client (src/router-work.ts) are not the application's: never a
 *   write; the router accounts for them itself.
 */
import { isRouterWork } from '../router-work.js'
import { engineOf, engineQueryText, type EngineQuery, type QueryEngine } from './internals.js'

/** What the router does when the application's query on the primary has settled (called in its async context). */
export interface PrimaryQueryObserver {
  /** A query that may have written has settled (or a transaction with one has committed). */
  wrote(): void
  /** A read has settled on the primary (or a transaction without writes has ended). */
  read(): void
  /** A raw statement with this SQL text has settled (in a transaction or not), before {@link wrote}. */
  raw(sql: string): void
}

/** Prisma's protocol actions that only read (`count` is an `aggregate`). */
const READ_ACTIONS: ReadonlySet<string> = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany', 'aggregate', 'groupBy'])

const mayWrite = (query: EngineQuery | undefined): boolean => typeof query?.action !== 'string' || !READ_ACTIONS.has(query.action)

/** The observers of each engine (weakly: a router that is gone stops observing). */
const observed = new WeakMap<QueryEngine, Set<WeakRef<PrimaryQueryObserver>>>()

function notify(observers: Set<WeakRef<PrimaryQueryObserver>>, write: boolean | { readonly sql: string }): void {
  for (const ref of observers) {
    const observer = ref.deref()
    if (observer === undefined) {
      observers.delete(ref)
      continue
    }
    try {
      if (typeof write === 'object') observer.raw(write.sql)
      else if (write) observer.wrote()
      else observer.read()
    } catch {
      // Never the query's outcome: a scope whose state cannot be made (a strict token of another engine) fails
      // its own routed queries with that error.
    }
  }
}

/** An interactive transaction: how deep its savepoints go, and whether a query in it may have written. */
interface OpenTransaction {
  depth: number
  wrote: boolean
}

function wrap(engine: QueryEngine, observers: Set<WeakRef<PrimaryQueryObserver>>): void {
  const { request, requestBatch, transaction } = engine
  const open = new Map<unknown, OpenTransaction>()
  /** In an interactive transaction `id`: remembered until it ends. */
  const inTransaction = (id: unknown, write: boolean): void => {
    const tx = open.get(id)
    if (tx && write && !isRouterWork()) tx.wrote = true
  }
  /** `send`, then (unless it is the router's own work) its raw texts and, outside a transaction, whether it wrote. */
  async function settled<T>(send: Promise<T>, queries: readonly EngineQuery[], write: boolean | undefined): Promise<T> {
    const own = isRouterWork()
    try {
      return await send
    } finally {
      if (!own) {
        for (const query of queries) {
          const sql = engineQueryText(query)
          if (sql !== undefined) notify(observers, { sql })
        }
        if (write !== undefined) notify(observers, write)
      }
    }
  }
  engine.request = function (this: unknown, query, options) {
    const id = options?.interactiveTransaction?.id
    if (id === undefined) return settled(request.call(this, query, options), [query], mayWrite(query))
    inTransaction(id, mayWrite(query))
    return settled(request.call(this, query, options), [query], undefined)
  }
  engine.requestBatch = function (this: unknown, queries, options) {
    const write = queries.some(mayWrite)
    const tx = options?.transaction
    if (tx?.kind !== 'itx') return settled(requestBatch.call(this, queries, options), queries, write)
    inTransaction(tx.options?.id, write)
    return settled(requestBatch.call(this, queries, options), queries, undefined)
  }
  engine.transaction = async function (this: unknown, action, headers, info) {
    if (action === 'start') {
      const started = await transaction.call(this, action, headers, info)
      const id = (started as { id?: unknown } | undefined)?.id ?? info?.newTxId
      const tx = open.get(id)
      // A nested transaction (a savepoint) is started with the id of the one it is in.
      if (tx && info?.newTxId !== undefined) tx.depth += 1
      else open.set(id, { depth: 1, wrote: false })
      return started
    }
    const tx = open.get(info?.id)
    try {
      return await transaction.call(this, action, headers, info)
    } finally {
      if (tx && --tx.depth <= 0) {
        open.delete(info?.id)
        // Committed, or its commit failed (it may have committed): its writes count. Rolled back: nothing did.
        if (action === 'commit' || !tx.wrote) notify(observers, tx.wrote)
      }
    }
  }
}

/**
 * Tells `observer` of every query the primary's engine (the engine of `client`) runs for the application, after
 * it settles. `false` when this Prisma Client has no engine to observe (the caller says so).
 */
export function observePrimaryQueries(client: unknown, observer: PrimaryQueryObserver): boolean {
  const engine = engineOf(client)
  if (!engine) return false
  let observers = observed.get(engine)
  if (!observers) {
    observed.set(engine, (observers = new Set()))
    wrap(engine, observers)
  }
  observers.add(new WeakRef(observer))
  return true
}
