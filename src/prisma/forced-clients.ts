/**
 * The clients `$primary()` and `$replica(name)` return: the client under the router, with a query component
 * that sends every query to the primary, or to one replica. Each is made on first use (an application may extend
 * the routed client per request) and kept.
 */
import { NoReplicaAvailableError, ReplicaModelError, ReplicaWriteError } from '../errors/index.js'
import { ReadInFlight, type ReplicaState } from '../replica-set.js'
import type { Router } from '../router.js'
import type { Routing } from '../routing.js'
import type { ClientActions } from './client-actions.js'
import { ROUTER_EXTENSION } from './composition.js'
import { forClientWithout, ROW_OPERATIONS } from './computed-fields.js'
import { callRaw, executeRequest, extensionsOf, fluentPath, isArgumentError, isInTransaction, type ModelShapes, requestOf, unpackFluent } from './internals.js'
import { READ_OPERATIONS } from './operations.js'
import { ReadOnlyTransactions, type ReadOnlyTransactionOptions } from './read-only-transaction.js'
import { inTransaction, trackWrite, withTransaction } from './route-query.js'
import type { InternalsGate } from './self-check.js'
import type { AnyClient, QueryParams } from './types.js'

/**
 * Runs a query that reached the end of a query extension chain on `replica`'s client instead: the request
 * itself when that client has no extensions of its own (executeRequest), else its model method (the fluent
 * path unpacked here) or raw-query method. `shapes`: computed fields of the extensions under the router.
 */
async function onReplica(replica: ReplicaState, actions: ClientActions, params: QueryParams, shapes: ModelShapes | undefined, internals: InternalsGate): Promise<unknown> {
  const check = internals.result ?? (await internals.run())
  // Computed fields that cannot be read as Prisma defines them: the arguments are not rewritten (the replica's
  // client then refuses what it lacks, and the argument error is Prisma's own, below).
  if (!check.computed) shapes = undefined
  const { model, operation } = params
  const args = model !== undefined && shapes && ROW_OPERATIONS.has(operation) ? forClientWithout(params.args, model, shapes) : params.args
  if (args === params.args) return await runOnReplica(replica, actions, params, args, check.request)
  try {
    return await runOnReplica(replica, actions, params, args, check.request)
  } catch (error) {
    // The arguments rewritten for computed fields were refused (nothing was sent): Prisma's own pipeline refuses
    // the application's, with the message a plain client gives, before any network I/O.
    if (isArgumentError(error)) await params.query(params.args)
    throw error
  }
}

async function runOnReplica(replica: ReplicaState, actions: ClientActions, params: QueryParams, args: unknown, requests: boolean): Promise<unknown> {
  const { model, operation } = params
  if (requests && actions.executesRequests) return await executeRequest(actions.client, requestOf(params), args)
  if (model === undefined) return await callRaw(actions.client, operation, args)
  const run = actions.get(model, operation)
  if (!run) throw new ReplicaModelError(replica.name, model, operation)
  const path = fluentPath(params)
  const result = await run(args)
  return path ? unpackFluent(result, path) : result
}

/** A read on `replica` ({@link onReplica}), counted in flight until it settles. */
async function readOn(replica: ReplicaState, actions: ClientActions, params: QueryParams, shapes: ModelShapes | undefined, internals: InternalsGate): Promise<unknown> {
  const read = new ReadInFlight(replica)
  try {
    const result = await onReplica(replica, actions, params, shapes, internals)
    read.end(true)
    return result
  } finally {
    read.end(false)
  }
}

export class ForcedClients {
  private forcedPrimary: AnyClient | undefined
  /** The clients of `$replica(name)`, by replica. */
  private readonly forcedReplicas = new Map<ReplicaState, AnyClient>()
  /** The client of `$replica()`. */
  private anyReplica: AnyClient | undefined
  private readonly readOnly: ReadOnlyTransactions

  /**
   * @param under the client under the router.
   * @param shapes computed fields of the extensions under the router (src/prisma/computed-fields.ts).
   */
  constructor(
    private readonly routing: Routing,
    private readonly under: AnyClient,
    private readonly shapes: ModelShapes | undefined,
  ) {
    this.readOnly = new ReadOnlyTransactions(routing, under, extensionsOf(under))
  }

  /**
   * `$primary()`: every query on the primary, reporting `forced-primary`; writes through it count for
   * read-your-writes, and reads for monotonic reads.
   */
  primary(): AnyClient {
    const { router, monitor } = this.routing
    return (this.forcedPrimary ??= this.under.$extends({
      name: `${ROUTER_EXTENSION}/primary`,
      query: {
        $allOperations(params: QueryParams) {
          monitor.ensureStarted()
          return monitor.sent(forcedPrimary(router, params))
        },
      },
      client: withTransaction(router, this.under, {}),
    }))
  }

  /**
   * `$replica(name)` (`replica`) or `$replica()` (`undefined`: a replica in rotation chosen by the policy for
   * each query): every extension runs, once, in order, with the clients they were given, and each query then
   * runs on that replica: model writes refused before any network I/O; a query inside a transaction (an
   * extension may batch one, as row-level security does) stays in it, on the primary. Its
   * `$transaction(fn, options)` is a read-only transaction (src/prisma/read-only-transaction.ts): on the named
   * replica, or for `$replica()` wherever a read of the scope may go (read-your-writes, failover, the primary).
   */
  replica(replica: ReplicaState | undefined): AnyClient {
    const cached = replica ? this.forcedReplicas.get(replica) : this.anyReplica
    if (cached) return cached
    const { router, monitor, reader, internals } = this.routing
    const shapes = this.shapes
    const readOnly = this.readOnly
    const forced = this.under.$extends({
      name: `${ROUTER_EXTENSION}/replica`,
      query: {
        $allOperations(params: QueryParams): PromiseLike<unknown> {
          const { model, operation } = params
          const target = replica ?? router.set.pick({ model, operation })
          if (!target) return Promise.reject(new NoReplicaAvailableError(undefined, '$replica', router.set.states()))
          if (model !== undefined && !READ_OPERATIONS.has(operation)) return Promise.reject(new ReplicaWriteError(model, operation, target.name))
          monitor.ensureStarted()
          if (isInTransaction(params)) {
            router.report.route(model, operation, 'transaction')
            // As it is: Prisma settles a batch's queries in the order it sees them settle.
            return monitor.sent(inTransaction(router, params))
          }
          router.report.route(model, operation, 'forced-replica', target.name)
          return monitor.sent(readOn(target, reader.actionsOf(target), params, shapes, internals))
        },
      },
      client: {
        /** A read-only transaction: see src/prisma/read-only-transaction.ts. */
        $transaction(fn: (tx: AnyClient) => Promise<unknown>, options?: ReadOnlyTransactionOptions): Promise<unknown> {
          return readOnly.run(fn, options, replica)
        },
      },
    })
    if (replica) this.forcedReplicas.set(replica, forced)
    else this.anyReplica = forced
    return forced
  }
}

/** A query of `$primary()`: on the primary, reported `forced-primary`; writes tracked, reads remembered by a monotonic scope. */
function forcedPrimary(router: Router, params: QueryParams): PromiseLike<unknown> {
  router.report.route(params.model, params.operation, 'forced-primary')
  if (isInTransaction(params)) return inTransaction(router, params)
  const isRead = params.model !== undefined && READ_OPERATIONS.has(params.operation)
  if (!isRead) return trackWrite(router, params.query(params.args))
  const watched = router.watchedScope()
  return watched ? router.primaryRead(Promise.resolve(params.query(params.args)), watched) : params.query(params.args)
}
