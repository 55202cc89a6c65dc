/**
 * Every query the primary's PrismaClient sends, whichever client object sent it: the routed client, the client
 * under it, or a client an extension captured (`Prisma.defineExtension((client) => …)` applied before the router,
 * a model method that writes through the client it closed over). They all share one request handler and one
 * query engine (src/prisma/internals.ts), so the router wraps the handler's `request` (called once per query, in
 * the async context of the code that sent it, before Prisma's DataLoader puts the queries of one tick together)
 * and the engine's `transaction` once, and hears of each query when it has settled, in its sender's context: the
 * `runInScope` scope of the request, so that a write through any of those clients counts for that scope's
 * read-your-writes, and for no other scope.
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
import { engineOf, engineQueryText, requestHandlerOf, type EngineQuery, type QueryEngine, type RequestHandler } from './internals.js'

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

/** An interactive transaction: how deep its savepoints go, whether a query ran in it, and whether one may have written. */
interface OpenTransaction {
  depth: number
  queried: boolean
  wrote: boolean
}

function wrap(handler: RequestHandler, engine: QueryEngine, observers: Set<WeakRef<PrimaryQueryObserver>>): void {
  const { request } = handler
  const { transaction } = engine
  const open = new Map<unknown, OpenTransaction>()
  // Once per query, in the context of the code that sent it (before the DataLoader puts several together): that
  // scope is the one it counts for. The promise is handed back as it is (no step added), the accounting attached.
  handler.request = function (this: unknown, sent) {
    const promise = request.call(this, sent)
    if (isRouterWork()) return promise
    const query = sent.protocolQuery
    const write = query === undefined || mayWrite(query)
    const sql = query === undefined ? undefined : engineQueryText(query)
    const tx = sent.transaction
    const interactive = tx?.kind === 'itx' ? open.get(tx.id) : undefined
    if (interactive) {
      interactive.queried = true
      if (write) interactive.wrote = true
    }
    const settled = (): void => {
      if (sql !== undefined) notify(observers, { sql })
      // In an interactive transaction: counted when it ends (below).
      if (tx?.kind !== 'itx') notify(observers, write)
    }
    promise.then(settled, settled)
    return promise
  }
  engine.transaction = async function (this: unknown, action, headers, info) {
    if (action === 'start') {
      const started = await transaction.call(this, action, headers, info)
      const id = (started as { id?: unknown } | undefined)?.id ?? info?.newTxId
      const tx = open.get(id)
      // A nested transaction (a savepoint) is started with the id of the one it is in.
      if (tx && info?.newTxId !== undefined) tx.depth += 1
      else open.set(id, { depth: 1, queried: false, wrote: false })
      return started
    }
    const tx = open.get(info?.id)
    try {
      return await transaction.call(this, action, headers, info)
    } finally {
      if (tx && --tx.depth <= 0) {
        open.delete(info?.id)
        // Committed, or its commit failed (it may have committed): its writes count; rolled back: nothing did. A
        // batch `$transaction`'s own (queried through its batch, counted per query) is not one of these.
        if (tx.queried && (action === 'commit' || !tx.wrote)) notify(observers, tx.wrote)
      }
    }
  }
}

/**
 * Tells `observer` of every query the primary's engine (that of `client`) runs for the application, after it
 * settles. `false` when this Prisma Client has no request handler or engine to observe (the caller says so).
 */
export function observePrimaryQueries(client: unknown, observer: PrimaryQueryObserver): boolean {
  const engine = engineOf(client)
  const handler = requestHandlerOf(client)
  if (!engine || !handler) return false
  let observers = observed.get(engine)
  if (!observers) {
    observed.set(engine, (observers = new Set()))
    wrap(handler, engine, observers)
  }
  observers.add(new WeakRef(observer))
  return true
}
