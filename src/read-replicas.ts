import { Prisma } from '@prisma/client/extension'
import { encodeConsistencyToken } from './consistency-token.js'
import {
  InvalidOptionError,
  NoReplicaAvailableError,
  ReplicaInTransactionError,
  ReplicaModelError,
  ReplicaRouterError,
  ReplicaWriteError,
  TimeoutError,
  UnknownReplicaError,
} from './errors/index.js'
import type { ReplicaStatus } from './health-event.js'
import { connectionIdleMs, HealthMonitor } from './health-monitor.js'
import { queryPrimaryLsn } from './lag-tracker.js'
import { linkTo } from './router-connections.js'
import { within } from './within.js'
import { modelProperty, READ_OPERATIONS } from './prisma/operations.js'
import { resolveOptions, type PrismaClientLike, type ReadReplicasOptions } from './options.js'
import { ClientActions } from './prisma/client-actions.js'
import { ROUTER_EXTENSION, extensionsUnder, readsChangedOnlyByQueries, readsUnchangedBy, routerOnTop, shapesUnder } from './prisma/composition.js'
import { forClientWithout, ROW_OPERATIONS } from './prisma/computed-fields.js'
import { withFastReads } from './prisma/fast-reads.js'
import {
  callRaw,
  executeRequest,
  type ModelShapes,
  setAppliedParent,
  fluentPath,
  hasNoExtensions,
  isInTransaction,
  requestOf,
  runsRequests,
  tracingEnabled,
  isTransactionClient,
  unpackFluent,
  withTransactionWrapper,
} from './prisma/internals.js'
import { ReplicaReader } from './replica-reader.js'
import { Router, type ReplicaState, type RouterStats } from './router.js'

/** What a query extension callback receives (the public part). */
interface QueryParams {
  readonly model?: string
  readonly operation: string
  readonly args: unknown
  readonly query: (args: unknown) => PromiseLike<unknown>
}

type AnyClient = Record<string, unknown> & {
  $extends(extension: unknown): AnyClient
  $transaction(...args: unknown[]): PromiseLike<unknown>
  $connect(): Promise<void>
  $disconnect(): Promise<void>
}

/**
 * A write (or a query that may write: raw, or a batch) sent to the primary, tracked for read-your-writes: the
 * scope's reads stay on the primary while it runs, and require its position once it has ended.
 */
async function trackWrite<T>(router: Router, promise: PromiseLike<T>): Promise<T> {
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
function withTransaction<T extends object>(router: Router, client: AnyClient, methods: T): T {
  return withTransactionWrapper(client, methods, (run) => router.transaction(run))
}

/** A query sent inside a transaction: its `$transaction` call accounts for it (see Router.transactionQuery). */
function inTransaction(router: Router, params: QueryParams): Promise<unknown> {
  return router.transactionQuery(params.query(params.args))
}

/** How long `$disconnect()` waits for a replica's client once no read of it is in flight (ms). */
const DISCONNECT_GRACE_MS = 500

/**
 * Disconnects a replica's client, but waits no longer than until its reads in flight have ended or been given
 * up, plus {@link DISCONNECT_GRACE_MS}: a read given up on a frozen server holds its pool connection until the
 * server answers, and the client's disconnect waits for it (it then finishes in the background).
 */
async function disconnectReplica(replica: ReplicaState): Promise<void> {
  const disconnected = replica.client.$disconnect()
  let timer: NodeJS.Timeout | undefined
  const givenUp = new Promise<void>((resolve) => {
    const poll = (): void => {
      timer = setTimeout(replica.inFlight === 0 ? resolve : poll, replica.inFlight === 0 ? DISCONNECT_GRACE_MS : 20)
    }
    poll()
  })
  try {
    await Promise.race([disconnected, givenUp])
  } finally {
    clearTimeout(timer)
    disconnected.catch(() => undefined)
  }
}

/**
 * Runs a query that reached the end of a query extension chain on `replica`'s client instead: the request
 * itself when that client has no extensions of its own (executeRequest), else its model method (the fluent
 * path unpacked here) or raw-query method. `shapes`: computed fields of the extensions under the router.
 */
async function onReplica(replica: ReplicaState, actions: ClientActions, params: QueryParams, shapes: ModelShapes | undefined): Promise<unknown> {
  const { model, operation } = params
  const args = model !== undefined && shapes && ROW_OPERATIONS.has(operation) ? forClientWithout(params.args, model, shapes) : params.args
  if (actions.executesRequests) return await executeRequest(actions.client, requestOf(params), args)
  if (model === undefined) return await callRaw(actions.client, operation, args)
  const run = actions.get(model, operation)
  if (!run) throw new ReplicaModelError(replica.name, model, operation)
  const path = fluentPath(params)
  const result = await run(args)
  return path ? unpackFluent(result, path) : result
}

/**
 * A Prisma Client extension that sends reads to read replicas and everything else to the primary, with
 * read-your-writes through a sticky window, and replica health: a replica that fails or lags leaves rotation,
 * and a read that fails on a replica at the connection level is retried elsewhere. Apply it before or after other
 * extensions: it stays the last query extension (extensions applied to the routed client go under it, see
 * src/prisma/composition.ts), so replicas receive arguments rewritten by soft-delete or tenant filters, and computed
 * fields work on replica reads. Applied to a client with no extension, model reads take a fast path
 * (src/prisma/fast-reads.ts) that skips the extended client's own request pipeline.
 *
 * @example
 * ```ts
 * const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: PRIMARY_URL }) })
 *   .$extends(readReplicas({ replicas: [replica1, { client: replica2, name: 'replica-b', weight: 2 }] }))
 * ```
 * @throws {InvalidOptionError} at once, when an option is invalid.
 */
export function readReplicas(options: ReadReplicasOptions) {
  const resolved = resolveOptions(options)

  return Prisma.defineExtension((base) => {
    const client = base as unknown as AnyClient
    for (const model of resolved.rules.keys()) {
      const delegate = (client as Record<string, unknown>)[modelProperty(model)] as { findMany?: unknown } | undefined
      if (typeof delegate?.findMany !== 'function') {
        throw new InvalidOptionError(`rules.${model}`, `Unknown model \`${model}\` in \`rules\`: this client has no \`${modelProperty(model)}\` model`)
      }
    }
    // The router's own connections (health checks, WAL positions), with the settings of each client's adapter.
    const idleMs = connectionIdleMs(resolved.health)
    const primaryLink = linkTo(base as unknown as PrismaClientLike, 'the primary', idleMs)
    const router = new Router(
      resolved,
      async () => {
        // Bounded like a health check: a read never waits on a hung primary connection (it goes to the primary).
        const lsn = await within(queryPrimaryLsn(primaryLink, true), resolved.health.timeoutMs, 'the primary’s WAL position').catch((error: unknown) => {
          if (error instanceof TimeoutError) primaryLink.reset()
          throw error
        })
        if (lsn === undefined) throw new ReplicaRouterError('pg_current_wal_insert_lsn() returned no position')
        return lsn
      },
      (r) => linkTo(r.client, `replica \`${r.name}\``, idleMs),
    )
    const monitor = new HealthMonitor(router, primaryLink, resolved)
    const reader = new ReplicaReader(router, resolved, (replica) => monitor.alive(replica))

    /**
     * The router applied to `under` (the client it extends, or that client with extensions applied to the routed
     * client later: see src/prisma/composition.ts), answering `$extends` by going under again.
     */
    // Declared apart, typed, so that the routed client's type is inferred from `routedOver` without recursion.
    const over: { routed: (under: typeof base, parent: object) => object } = { routed: () => ({}) }
    /** `parent`: the routed client an extension was applied to, when `under` carries it (its `$parent`). */
    const routedOver = (under: typeof base, parent?: object) => {
      const underClient = under as unknown as AnyClient
      const extensions = extensionsUnder(underClient)
      // Computed fields under the router: replica reads ask for what they need (src/prisma/computed-fields.ts).
      const shapes = shapesUnder(underClient, extensions)

      /**
       * `$primary()`: the client under the router, reporting `forced-primary`; writes through it open the sticky
       * window. Made on first use (an application may extend the routed client per request).
       */
      let primary: AnyClient | undefined
      const primaryClient = (): AnyClient =>
        (primary ??= underClient.$extends({
          name: `${ROUTER_EXTENSION}/primary`,
          query: {
            $allOperations(params: QueryParams) {
              monitor.ensureStarted()
              router.report.route(params.model, params.operation, 'forced-primary')
              if (isInTransaction(params)) return inTransaction(router, params)
              const isRead = params.model !== undefined && READ_OPERATIONS.has(params.operation)
              if (!isRead) return trackWrite(router, params.query(params.args))
              const watched = router.watchedScope()
              return watched ? router.primaryRead(Promise.resolve(params.query(params.args)), watched) : params.query(params.args)
            },
          },
          client: withTransaction(router, underClient, {}),
        }))

      /**
       * `$replica(name)`: the client under the router (every extension runs, once, in order, with the clients
       * they were given), executing each query on that replica: model writes refused before any network I/O; a
       * query inside a transaction (an extension may batch one, as row-level security does) stays in it, on the
       * primary. Made on first use.
       */
      const forcedReplicas = new Map<ReplicaState, AnyClient>()
      const forcedReplica = (replica: ReplicaState): AnyClient => {
        let forced = forcedReplicas.get(replica)
        if (forced) return forced
        forced = underClient.$extends({
          name: `${ROUTER_EXTENSION}/replica`,
          query: {
            async $allOperations(params: QueryParams) {
              const { model, operation } = params
              if (model !== undefined && !READ_OPERATIONS.has(operation)) throw new ReplicaWriteError(model, operation, replica.name)
              monitor.ensureStarted()
              if (isInTransaction(params)) {
                router.report.route(model, operation, 'transaction')
                return inTransaction(router, params)
              }
              router.report.route(model, operation, 'forced-replica', replica.name)
              replica.inFlight++
              try {
                const result = await onReplica(replica, reader.actionsOf(replica), params, shapes)
                replica.reads++
                return result
              } finally {
                replica.inFlight--
              }
            },
          },
        })
        forcedReplicas.set(replica, forced)
        return forced
      }

      const extended = under.$extends({
        name: ROUTER_EXTENSION,
        client: withTransaction(router, underClient, {
          /** The primary: bypasses routing. Inside a transaction, returns the transaction client itself. */
          $primary<T extends object>(this: T): Omit<T, '$primary' | '$replica'> {
            const context = Prisma.getExtensionContext(this)
            if (isTransactionClient(context)) return context
            return primaryClient() as unknown as Omit<T, '$primary' | '$replica'>
          },

          /**
           * A replica, ignoring stickiness: the one named (whatever its health), else one in rotation chosen by
           * the policy. Model writes through it throw `ReplicaWriteError`; raw queries run on the replica.
           * @throws {ReplicaInTransactionError} inside a transaction.
           * @throws {UnknownReplicaError} for a name that is not configured.
           * @throws {NoReplicaAvailableError} without a name, when no replica is in rotation.
           */
          $replica<T extends object>(this: T, name?: string): Omit<T, '$primary' | '$replica'> {
            const context = Prisma.getExtensionContext(this)
            if (isTransactionClient(context)) throw new ReplicaInTransactionError()
            // A name that is not a string is unknown too (the error describes it without showing a string).
            if (name !== undefined && typeof name !== 'string') throw new UnknownReplicaError(name, router.set.names)
            const replica = name === undefined ? router.set.pick({ model: undefined, operation: '$replica' }) : router.set.byName(name)
            if (!replica) {
              throw new NoReplicaAvailableError(undefined, '$replica', router.set.states())
            }
            return forcedReplica(replica) as unknown as Omit<T, '$primary' | '$replica'>
          },

          /**
           * A compact token for the current scope's last write (WAL position + time), for a cookie or header of the
           * next request, maybe served by another app instance: `runInScope(next, { token })` reads that write.
           * `undefined` when the scope has written nothing. Costs at most one round trip to the primary.
           */
          async $consistencyToken(): Promise<string | undefined> {
            const point = await router.consistencyPoint()
            return point && encodeConsistencyToken(point)
          },

          /** Router-wide counters: read-your-writes round trips, retries, fallbacks, and the sticky mode in force. */
          $routerStats(): RouterStats {
            return router.stats()
          },

          /** Health, lag and counters of every replica. */
          $replicaStatus(): ReplicaStatus[] {
            return router.set.status()
          },

          /** Connects the primary and every replica, and starts the health check. */
          async $connect(): Promise<void> {
            monitor.ensureStarted()
            await Promise.all([underClient.$connect(), ...router.replicas.map((r) => r.client.$connect())])
          },

          /**
           * Stops the health check and closes the router's own connections, then disconnects the primary and every
           * replica. Never waits for a frozen replica: a replica's client is waited for until its reads in flight
           * have ended or been given up (`readTimeoutMs`), then at most {@link DISCONNECT_GRACE_MS} more.
           */
          async $disconnect(): Promise<void> {
            await monitor.stop()
            await Promise.all([underClient.$disconnect(), ...router.replicas.map((r) => disconnectReplica(r))])
          },
        }),

        query: {
          $allOperations(prismaParams) {
            const params = prismaParams as unknown as QueryParams
            const { model, operation } = params
            monitor.ensureStarted()
            if (isInTransaction(params)) {
              router.report.route(model, operation, 'transaction')
              return inTransaction(router, params)
            }
            if (model === undefined) {
              router.report.route(model, operation, 'raw')
              return trackWrite(router, params.query(params.args))
            }
            if (!READ_OPERATIONS.has(operation)) {
              router.report.route(model, operation, 'write')
              return trackWrite(router, params.query(params.args))
            }
            const args = params.args
            const replicaArgs = shapes && ROW_OPERATIONS.has(operation) ? forClientWithout(args, model, shapes) : args
            return reader.read(model, { operation, args, query: params.query, path: fluentPath(params), replicaArgs, request: requestOf(params) })
          },
        },
      })
      // Nothing under the router changes model reads (no extension, or only client/model methods): reads may
      // skip the extended client's pipeline. (An unreadable extension list is empty: then only a bare client.)
      // Or only query components do: the fast path runs their callbacks itself, then routes (src/prisma/query-chain.ts).
      const fast = extensions.length === 0 ? hasNoExtensions(under) : readsUnchangedBy(extensions)
      const chained = !fast && extensions.length > 0 && readsChangedOnlyByQueries(extensions) && runsRequests(under)
      const routed =
        !fast && !chained
          ? extended
          : withFastReads(
              extended,
              under,
              (model, operation, args, query, request) => {
                monitor.ensureStarted()
                // Without tracing, a replica may run the request itself (no second pipeline, as for routed reads);
                // with it, its model method opens Prisma's operation span.
                const asRequest = request !== undefined && !tracingEnabled(underClient) ? request : undefined
                return reader.read(model, { operation, args, query, path: undefined, replicaArgs: args, request: asRequest })
              },
              chained
                ? (kind, model, operation, run) => {
                    monitor.ensureStarted()
                    router.report.route(model, operation, kind)
                    return kind === 'transaction' ? router.transactionQuery(run()) : trackWrite(router, run())
                  }
                : undefined,
            )
      if (parent) setAppliedParent(extended, parent)
      return routerOnTop(routed, (extension, routedClient) => over.routed(underClient.$extends(extension) as unknown as typeof base, routedClient))
    }
    over.routed = routedOver

    return routedOver(base)
  })
}
