/**
 * The routed client's query component: where each query goes (a read to the reader, everything else to the
 * primary), and the write and transaction bookkeeping read-your-writes needs of the queries sent there. The fast
 * path (src/prisma/fast-reads.ts) routes through the same functions.
 */
import type { ModelShapes } from './internals.js'
import { fluentPath, isInTransaction, rawSqlText, requestOf, tracingEnabled, withTransactionWrapper } from './internals.js'
import { forClientWithout, ROW_OPERATIONS } from './computed-fields.js'
import type { PrimaryOnly, RouteRead } from './fast-reads.js'
import { RAW_READS, READ_OPERATIONS } from './operations.js'
import type { AnyClient, QueryParams } from './types.js'
import { sqlstateOf } from '../connection-error.js'
import type { Router } from '../router.js'
import { asRouterWork } from '../router-work.js'
import type { Routing } from '../routing.js'

/**
 * A write (or a query that may write: raw, or a batch) sent to the primary, tracked for read-your-writes: the
 * scope's reads stay on the primary while it runs, and require its position once it has ended.
 */
export async function trackWrite<T>(router: Router, promise: PromiseLike<T>): Promise<T> {
  router.beginWrite()
  try {
    return await promise
  } finally {
    // Read-your-writes counts from the end of the write, when its effects are committed (or never will be).
    router.endWrite()
  }
}

/**
 * `methods` plus a `$transaction` that tells the router when the transaction settles (after COMMIT), with the
 * type of `methods`: the client keeps Prisma's own `$transaction` signature.
 */
export function withTransaction<T extends object>(router: Router, client: AnyClient, methods: T): T {
  return withTransactionWrapper(client, methods, (run) => router.transaction(run))
}

/** A query sent inside a transaction: its `$transaction` call accounts for it (see Router.transactionQuery). */
export function inTransaction(router: Router, params: QueryParams): PromiseLike<unknown> {
  return router.transactionQuery(params.query(params.args))
}

/**
 * Routes one query that reached the router: inside a transaction, raw, or a model write to the primary; a model
 * read to the reader (decided, then executed with failover). `shapes`: computed fields of the extensions under
 * the router, which a replica's client asks for by the fields they need.
 */
export function routeQuery(routing: Routing, params: QueryParams, shapes: ModelShapes | undefined): PromiseLike<unknown> {
  routing.monitor.ensureStarted()
  return routing.monitor.sent(dispatch(routing, params, shapes))
}

function dispatch(routing: Routing, params: QueryParams, shapes: ModelShapes | undefined): PromiseLike<unknown> {
  const { router, reader } = routing
  const { model, operation } = params
  router.scopeUsable()
  if (isInTransaction(params)) {
    router.report.route(model, operation, 'transaction')
    return inTransaction(router, params)
  }
  if (model === undefined) {
    if (routing.raw && RAW_READS.has(operation)) return routeRaw(routing, routing.raw, params)
    router.report.route(model, operation, 'raw')
    return trackWrite(router, params.query(params.args))
  }
  if (!READ_OPERATIONS.has(operation)) {
    router.report.route(model, operation, 'write')
    return trackWrite(router, params.query(params.args))
  }
  const check = routing.internals.result
  // The first reads wait for the self-check of the internals a replica read relies on (src/prisma/self-check.ts).
  if (check === undefined) return routing.internals.run().then(() => routeQuery(routing, params, shapes))
  const args = params.args
  const rows = ROW_OPERATIONS.has(operation)
  // Where computed fields or the fluent path cannot be read as Prisma defines them, the primary answers.
  if ((shapes && rows && !check.computed) || (!check.fluent && FLUENT_OPERATIONS.has(operation))) {
    router.report.route(model, operation, 'fallback')
    return router.primaryRead(Promise.resolve(params.query(args)), router.watchedScope())
  }
  const replicaArgs = shapes && rows ? forClientWithout(args, model, shapes) : args
  return reader.read(model, { operation, args, query: params.query, path: fluentPath(params), replicaArgs, request: check.request ? requestOf(params) : undefined })
}

/** Operations whose result carries the fluent API (relation accessors). */
const FLUENT_OPERATIONS: ReadonlySet<string> = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow'])

/**
 * `raw: 'classify'`: a raw read whose SQL the parser proves a plain read goes to the reader, as a model read does
 * (read-your-writes, health, failover); any other raw query to the primary, tracked as a write. A replica that
 * refuses it (SQLSTATE 25006: a view or an operator calling a writing function, which the text does not show;
 * 0A000: an unlogged table) has run nothing: it is done on the primary, and that text goes to the primary from
 * then on. Where the reader itself sends it to the primary (read-your-writes, fallback), a text no replica has
 * served yet may still write what it does not show: later reads of the scope then need the primary's position
 * after it (LSN mode; window mode: it counts as a write).
 */
async function routeRaw({ router, reader, trust }: Routing, raw: NonNullable<Routing['raw']>, params: QueryParams): Promise<unknown> {
  const { operation } = params
  const text = rawSqlText(operation, params.args)
  if (!raw.classifier.ready) await raw.loaded
  if (text === undefined || !trust || !(await trust.verdict(text)).replica) {
    router.report.route(undefined, operation, 'raw')
    return await trackWrite(router, params.query(params.args))
  }
  const sent = { onPrimary: false }
  const query = (args: unknown): PromiseLike<unknown> => {
    sent.onPrimary = true
    // The router accounts for it (below): not the application's write on the primary (src/router-work.ts).
    const run = asRouterWork(() => Promise.resolve(params.query(args)))
    return raw.classifier.served(text) ? run : router.mayHaveWritten(run)
  }
  try {
    const result = await reader.read(undefined, { operation, args: params.args, query, path: undefined, replicaArgs: params.args, request: requestOf(params) })
    if (!sent.onPrimary) raw.classifier.markServed(text)
    return result
  } catch (error) {
    const sqlstate = sqlstateOf(error)
    // An error of the primary is final; so is one a replica reports of the statement itself (a syntax error, a
    // division by zero: the primary would report it too).
    if (sent.onPrimary || sqlstate === undefined) throw error
    const standbyOnly = STANDBY_ONLY[sqlstate]
    if (standbyOnly !== undefined) {
      // The replica ran nothing; on the primary, as a plain client runs it, from now on.
      raw.classifier.demote(text, standbyOnly, sqlstate === '0A000')
      router.report.route(undefined, operation, 'raw')
      return await trackWrite(router, params.query(params.args))
    }
    if (!REDO_ON_PRIMARY.has(sqlstate)) throw error
    // Not there on the replica (yet): a table or function the application created on the primary (a temporary
    // one, or one the replica has not replayed), or a conflict with recovery. Done on the primary this once.
    if (sqlstate.startsWith('42') || sqlstate === '3F000') trust.catalog.invalidate()
    router.report.route(undefined, operation, 'raw')
    return await query(params.args)
  }
}

/**
 * A replica's refusal of a raw read that only a standby gives (the replica ran nothing): the text goes to the
 * primary from then on. 25006: a write the text does not show (a view or an operator calling a writing
 * function); 0A000: not supported during recovery (an unlogged or temporary table); 55000: recovery is in progress
 * (a view over `pg_current_wal_lsn()`, `pg_walfile_name()`).
 */
const STANDBY_ONLY: Readonly<Record<string, string>> = {
  '25006': 'refused by a replica as a write (25006)',
  '0A000': 'not available on a replica (0A000)',
  '55000': 'not available during recovery (55000)',
}

/**
 * A replica's error of a raw read that the primary may not give: an object missing there (42P01 table, 42883
 * function, 42704 object, 3F000 schema: not replayed yet, or temporary on the primary) or a conflict with
 * recovery (40001). Done on the primary, where a plain client would have run it.
 */
const REDO_ON_PRIMARY: ReadonlySet<string> = new Set(['42P01', '42883', '42704', '3F000', '40001'])

/** The fast path's reads (src/prisma/fast-reads.ts), routed by the reader. `under`: the client under the router. */
export function fastReads({ monitor, reader }: Routing, under: AnyClient): RouteRead {
  return (model, operation, args, query, request) => {
    monitor.ensureStarted()
    // Without tracing, a replica may run the request itself (no second pipeline, as for routed reads); with it,
    // its model method opens Prisma's operation span.
    const asRequest = request !== undefined && !tracingEnabled(under) ? request : undefined
    return monitor.sent(reader.read(model, { operation, args, query, path: undefined, replicaArgs: args, request: asRequest }))
  }
}

/**
 * The fast path's queries that query extensions under the router turned into a write or sent inside a batch
 * transaction (src/prisma/query-chain.ts): on the primary, tracked.
 */
export function fastPrimaryOnly({ router, monitor }: Routing): PrimaryOnly {
  return (kind, model, operation, run) => {
    monitor.ensureStarted()
    router.scopeUsable() // as dispatch: a strict scope's malformed token rejects before the route is reported
    router.report.route(model, operation, kind)
    return monitor.sent(kind === 'transaction' ? router.transactionQuery(run()) : trackWrite(router, run()))
  }
}
