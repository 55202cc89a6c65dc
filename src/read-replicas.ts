import { Prisma } from '@prisma/client/extension'
import { connectionErrorCause } from './connection-error.js'
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
import { ReadDeadlines } from './read-deadlines.js'
import { modelProperty, READ_OPERATIONS } from './prisma/operations.js'
import { resolveOptions, type PrismaClientLike, type ReadReplicasOptions, type ResolvedOptions } from './options.js'
import { ClientActions } from './prisma/client-actions.js'
import { ROUTER_EXTENSION, extensionsUnder, readsChangedOnlyByQueries, readsUnchangedBy, routerOnTop, shapesUnder } from './prisma/composition.js'
import { forClientWithout, ROW_OPERATIONS } from './prisma/computed-fields.js'
import { withFastReads } from './prisma/fast-reads.js'
import { withoutCallSite } from './prisma/without-call-site.js'
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
import type { RoutingPolicy } from './policies/routing-policy.js'
import { Router, type ReplicaState, type RouterStats } from './router.js'
import { type ScopeState, tick } from './scope.js'

/** What a query extension callback receives (the public part). */
interface QueryParams {
  readonly model?: string
  readonly operation: string
  readonly args: unknown
  readonly query: (args: unknown) => PromiseLike<unknown>
}

/**
 * One model read, as the reader handles it, whichever path it came from (query extension or fast path): one
 * shape, so that the reader's code sees one kind of object.
 */
interface ReadRequest {
  readonly operation: string
  readonly args: unknown
  /** Runs the read as asked, on the primary. */
  readonly query: (args: unknown) => PromiseLike<unknown>
  /** The fluent API's path (`findUnique(...).posts()` -> `['posts']`) to unpack from a replica's result. */
  readonly path: readonly string[] | undefined
  /** The arguments for a replica's client: `args`, or `args` rewritten for computed fields (src/prisma/computed-fields.ts). */
  readonly replicaArgs: unknown
  /**
   * The query extension's request (read through the query extension), which a replica client without extensions
   * runs directly (executeRequest: one request pipeline, the routed client's); `undefined` on the fast path.
   */
  readonly request: object | undefined
}

type AnyClient = Record<string, unknown> & {
  $extends(extension: unknown): AnyClient
  $transaction(...args: unknown[]): PromiseLike<unknown>
  $connect(): Promise<void>
  $disconnect(): Promise<void>
}

async function settle<T>(router: Router, promise: PromiseLike<T>): Promise<T> {
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

/**
 * Replicas `allowed` that are known to have replayed `position`. Never a pooled entry: its positions belong to
 * whichever server answered.
 */
function knownAtLeast(position: bigint, allowed: ((r: ReplicaState) => boolean) | undefined): (r: ReplicaState) => boolean {
  return (r) => (!allowed || allowed(r)) && !r.pooled && r.replay !== undefined && r.replay >= position
}

/** A replica's replay position checked less than this long ago is not checked again (ms). */
const RECHECK_MS = 5

/**
 * Runs reads on replicas: picks one in rotation, and on a connection-level failure takes it out of rotation
 * and retries once on another replica in rotation, then on the primary (or throws, with `fallback: 'error'`).
 * Errors of the query itself are never retried.
 */
class ReplicaReader {
  /**
   * @param alive whether a replica's server answers a probe on the router's own connection (`undefined`: it has
   *   none); see HealthMonitor.alive.
   */
  constructor(
    private readonly router: Router,
    private readonly options: Pick<ResolvedOptions, 'fallback' | 'readTimeoutMs' | 'rules'>,
    private readonly alive: (replica: ReplicaState) => Promise<boolean> | undefined,
  ) {
    this.deadlines = options.readTimeoutMs === false ? undefined : new ReadDeadlines(options.readTimeoutMs)
  }

  private readonly deadlines: ReadDeadlines | undefined
  private readonly actions = new Map<ReplicaState, ClientActions>()

  /** `replica`'s client with its model actions looked up once (see ClientActions); also for `$replica()`. */
  actionsOf(replica: ReplicaState): ClientActions {
    let actions = this.actions.get(replica)
    if (!actions) this.actions.set(replica, (actions = new ClientActions(replica.client)))
    return actions
  }

  private timed<T>(promise: Promise<T>): Promise<T> {
    return this.deadlines ? this.deadlines.run(promise) : promise
  }

  /**
   * Routes one read. Synchronous up to the query whenever it can be (no rule to the primary, no write of the
   * scope waiting for its primary position, no monotonic scope): one promise chain from the caller to the
   * replica's client.
   */
  read(model: string, params: ReadRequest): Promise<unknown> {
    const { operation } = params
    const router = this.router
    const rule = this.options.rules.get(model)
    const scope = router.mode === 'lsn' ? router.scopeState() : undefined
    // The scope whose reads are remembered for monotonic reads (a runInScope scope in LSN mode), if any.
    const watched = scope?.monotonic === true ? scope : undefined
    if (rule === 'primary') {
      router.emit(model, operation, 'rule')
      return router.primaryRead(onPrimary(params), watched)
    }
    if (router.mode === 'window' && router.isSticky()) {
      router.emit(model, operation, 'sticky', undefined, 'window')
      return onPrimary(params)
    }
    // A rule naming a replica restricts the candidates to it; a rule with a policy replaces the policy.
    const named = typeof rule === 'string' ? router.byName(rule) : undefined
    const policy = typeof rule === 'object' ? rule : undefined
    const reason = named ? 'rule' : 'read'
    const accept: ((r: ReplicaState) => boolean) | undefined = named && ((r) => r === named)
    if (scope) {
      if (Router.untracked(scope)) {
        router.emit(model, operation, 'sticky', undefined, 'lsn')
        return router.primaryRead(onPrimary(params), watched)
      }
      if (watched) return this.readMonotonic(model, params, watched, reason, accept, policy)
      // No write pending in this scope -> no round trip to learn the position it requires.
      if (scope.pending !== undefined) {
        return router.requirement().then((required) => this.readCausal(model, params, required, reason, accept, policy, undefined))
      }
      if (scope.required !== undefined) return this.readCausal(model, params, scope.required, reason, accept, policy, undefined)
    }
    const replica = router.pick({ model, operation }, undefined, accept, policy)
    if (!replica) return this.toPrimary(model, params, 'fallback', undefined, undefined)
    return this.readOn(replica, model, params, reason, accept, policy, undefined, false)
  }

  /**
   * A read of a monotonic scope: on its home replica while that can serve it (one server's position only
   * grows), else elsewhere with the home's bound added to what the scope requires.
   */
  private async readMonotonic(
    model: string,
    params: ReadRequest,
    scope: ScopeState,
    reason: 'read' | 'rule',
    allowed: ((r: ReplicaState) => boolean) | undefined,
    policy: RoutingPolicy | undefined,
  ): Promise<unknown> {
    const router = this.router
    const canStay = (home: ReplicaState) => Router.canStay(home, scope) && (!allowed || allowed(home))
    if (scope.home && !canStay(scope.home)) router.leaveHome(scope)
    const required = await router.requirement()
    if (required === 'primary') {
      router.emit(model, params.operation, 'sticky', undefined, 'lsn')
      return await router.primaryRead(onPrimary(params), scope)
    }
    // Asked again after each wait: a concurrent read of the scope may have moved its home meanwhile.
    const stay = scope.home
    if (stay && canStay(stay)) {
      if (required === undefined || (stay.replay !== undefined && stay.replay >= required)) {
        return await this.readOnHome(stay, model, params, reason, allowed, policy, scope)
      }
      // The home has not replayed the scope's write as far as we know: ask it (the answer is also its bound).
      if ((await this.checkReplay(stay)) && scope.home === stay && canStay(stay) && stay.replay !== undefined && stay.replay >= required) {
        return await this.readOnHome(stay, model, params, reason, allowed, policy, scope)
      }
    }
    if (scope.home) router.leaveHome(scope)
    return await this.readCausal(model, params, await router.requirement(), reason, allowed, policy, scope)
  }

  /**
   * A read on the scope's home, confirmed afterwards once the scope has read there before or requires a
   * position (see {@link confirmed}). If the home fails under it, another replica may take it only if it is
   * known to have replayed what the home served (a check of the home started after its last read), else the
   * primary.
   */
  private readOnHome(
    home: ReplicaState,
    model: string,
    params: ReadRequest,
    reason: 'read' | 'rule',
    allowed: ((r: ReplicaState) => boolean) | undefined,
    policy: RoutingPolicy | undefined,
    scope: ScopeState,
  ): Promise<unknown> {
    const required = scope.required
    const bound = Router.homeBound(home, scope)
    const floor = bound === undefined ? undefined : required === undefined || bound > required ? bound : required
    const accept = floor === undefined ? () => false : knownAtLeast(floor, allowed)
    const confirm = required !== undefined || scope.homeReadAt > 0
    return this.readOn(home, model, params, reason, accept, policy, scope, confirm)
  }

  /**
   * A read that must see the scope's writes (and, in a monotonic scope, what it read): on a replica known to
   * have replayed `required`, else the primary. `watched`: the monotonic scope, if any.
   */
  private async readCausal(
    model: string,
    params: ReadRequest,
    required: bigint | 'primary' | undefined,
    reason: 'read' | 'rule',
    allowed: ((r: ReplicaState) => boolean) | undefined,
    policy: RoutingPolicy | undefined,
    watched: ScopeState | undefined,
  ): Promise<unknown> {
    const { operation } = params
    const router = this.router
    if (required === 'primary') {
      router.emit(model, operation, 'sticky', undefined, 'lsn')
      return await router.primaryRead(onPrimary(params), watched)
    }
    // A pooled entry's positions belong to whichever server answered: never for a read with a requirement.
    const accept = required === undefined ? allowed : knownAtLeast(required, allowed)
    let replica = router.pick({ model, operation }, undefined, accept, policy)
    if (!replica && required !== undefined && accept) {
      // No replica is KNOWN to have replayed the scope's write: ask the most advanced one, once.
      const candidate = router.mostAdvanced({ model, operation }, (r) => (!allowed || allowed(r)) && !r.pooled, policy)
      if (!candidate) return await this.toPrimary(model, params, 'fallback', undefined, watched)
      if ((await this.checkReplay(candidate)) && accept(candidate)) replica = candidate
      else {
        router.emit(model, operation, 'sticky', undefined, 'lsn')
        return await router.primaryRead(onPrimary(params), watched)
      }
    }
    if (!replica) return await this.toPrimary(model, params, 'fallback', undefined, watched)
    // A read chosen by a known position is confirmed afterwards: its server may have gone back since.
    return await this.readOn(replica, model, params, reason, accept, policy, watched, required !== undefined)
  }

  /**
   * Reads on `replica`; on a connection failure, once on another acceptable replica, then the primary.
   * `confirm`: the choice relied on a known position (see {@link confirmed}).
   */
  private readOn(
    replica: ReplicaState,
    model: string,
    params: ReadRequest,
    reason: 'read' | 'rule',
    accept: ((r: ReplicaState) => boolean) | undefined,
    policy: RoutingPolicy | undefined,
    watched: ScopeState | undefined,
    confirm: boolean,
  ): Promise<unknown> {
    if (this.router.observed()) this.router.emit(model, params.operation, reason, replica)
    if (watched) this.router.readingOn(watched, replica)
    return this.attempt(replica, model, params, (error) => this.afterFailure(error, replica, model, params, accept, policy, watched, confirm), watched, confirm)
  }

  private async afterFailure(
    error: unknown,
    replica: ReplicaState,
    model: string,
    params: ReadRequest,
    accept: ((r: ReplicaState) => boolean) | undefined,
    policy: RoutingPolicy | undefined,
    watched: ScopeState | undefined,
    confirm: boolean,
  ): Promise<unknown> {
    if (!this.isConnectionFailure(replica, error)) throw error
    this.router.retries += 1
    let failure = error
    const second = this.router.pick({ model, operation: params.operation }, replica, accept, policy)
    if (second) {
      this.router.emit(model, params.operation, 'retry', second)
      try {
        return await this.attempt(second, model, params, undefined, watched, confirm)
      } catch (secondError) {
        if (!this.isConnectionFailure(second, secondError)) throw secondError
        failure = secondError
      }
    }
    return await this.toPrimary(model, params, 'retry', failure, watched)
  }

  private async toPrimary(model: string, params: ReadRequest, reason: 'fallback' | 'retry', failure: unknown, watched: ScopeState | undefined): Promise<unknown> {
    if (reason === 'fallback') this.router.fallbacks += 1
    if (this.options.fallback === 'error') {
      throw new NoReplicaAvailableError(model, params.operation, this.router.states(), failure === undefined ? undefined : { cause: failure })
    }
    this.router.emit(model, params.operation, reason)
    return await this.router.primaryRead(onPrimary(params), watched)
  }

  /**
   * Learns a replica's replay position: one round trip, shared by concurrent readers, and not repeated within
   * {@link RECHECK_MS} of the last one (a lagging replica is not asked on every read). False if it failed (a
   * connection failure also takes the replica out of rotation).
   */
  private async checkReplay(replica: ReplicaState): Promise<boolean> {
    if (performance.now() - replica.positionCheckedAt < RECHECK_MS) return true
    replica.positionCheckedAt = performance.now()
    try {
      await this.timed(replica.checks.after(tick()))
      return true
    } catch (error) {
      this.isConnectionFailure(replica, error)
      return false
    }
  }

  /**
   * Confirms a read that relied on what was known of `replica` (its position, or that it is the scope's home):
   * a check that started after the read ended (`endedAt`) saw the same incarnation, so the server that answered
   * had not gone back in time (restarted, reinitialised) since that knowledge was gathered. One round trip,
   * shared by every read of the replica that ended before it started.
   */
  private async confirmed(replica: ReplicaState, incarnation: number, endedAt: number): Promise<boolean> {
    try {
      await this.timed(replica.checks.after(endedAt))
    } catch (error) {
      this.isConnectionFailure(replica, error)
      return false
    }
    return replica.incarnation === incarnation && !replica.pooled
  }

  /** A read whose replica could not be confirmed (see {@link confirmed}), done again on the primary. */
  private redoOnPrimary(model: string, params: ReadRequest, watched: ScopeState | undefined): Promise<unknown> {
    this.router.unconfirmed += 1
    this.router.emit(model, params.operation, 'sticky', undefined, 'lsn')
    return this.router.primaryRead(onPrimary(params), watched)
  }

  private isConnectionFailure(replica: ReplicaState, error: unknown): boolean {
    const cause = connectionErrorCause(error)
    if (cause === undefined) return false
    this.router.fail(replica, cause)
    return true
  }

  /**
   * Runs the read on `replica`'s client, counting it in flight until it settles or times out (a late result of a
   * timed-out read is dropped).
   */
  private attempt(
    replica: ReplicaState,
    model: string,
    params: ReadRequest,
    onFailure: ((error: unknown) => Promise<unknown>) | undefined,
    watched: ScopeState | undefined,
    confirm: boolean,
  ): Promise<unknown> {
    const actions = this.actionsOf(replica)
    // Looked up even for a request: a replica's client without the model (another schema) is named as such.
    const run = actions.get(model, params.operation)
    if (!run) return Promise.reject(new ReplicaModelError(replica.name, model, params.operation))
    const request = actions.executesRequests ? params.request : undefined
    // A request run directly is unpacked by the replica's client (its fluent path is part of it).
    const path = request ? undefined : params.path
    const deadlines = this.deadlines
    const incarnation = replica.incarnation
    replica.inFlight++
    let open = true
    const close = (): boolean => {
      if (!open) return false
      open = false
      replica.inFlight--
      return true
    }
    let query: PromiseLike<unknown>
    try {
      const args = params.replicaArgs
      if (request) query = executeRequest(actions.client, request, args)
      else query = actions.recordsCallSites ? withoutCallSite(() => run(args)) : run(args)
    } catch (error) {
      close()
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the query's own error, unchanged
      return Promise.reject(error)
    }
    return new Promise((resolve, reject) => {
      const fail = (error: unknown): void => {
        if (onFailure) resolve(onFailure(error))
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the query's own error, unchanged
        else reject(error)
      }
      // A read that runs past `readTimeoutMs` is given up only if its server does not answer a probe on the
      // router's own connection (or is known down): a busy server's read goes on, and is looked at again after
      // another `readTimeoutMs`; it is never run a second time elsewhere.
      const onTimeout = (timeout: Error): void => {
        if (!open) return
        const check = replica.state === 'down' ? undefined : this.alive(replica)
        if (!check) {
          if (close()) fail(timeout)
          return
        }
        void check.then((ok) => {
          if (!open) return
          if (ok) {
            this.router.slowReads += 1
            ticket = deadlines?.track(onTimeout)
          } else if (close()) fail(timeout)
        })
      }
      let ticket = deadlines?.track(onTimeout)
      query.then(
        (result) => {
          if (ticket) deadlines?.release(ticket)
          if (!close()) return
          replica.reads++
          if (!confirm) {
            if (watched) this.router.servedBy(watched, replica, tick())
            resolve(path ? unpackFluent(result, path) : result)
            return
          }
          const endedAt = tick()
          resolve(
            this.confirmed(replica, incarnation, endedAt).then((ok) => {
              if (!ok) return this.redoOnPrimary(model, params, watched)
              if (watched) this.router.servedBy(watched, replica, endedAt)
              return path ? unpackFluent(result, path) : result
            }),
          )
        },
        (error: unknown) => {
          if (ticket) deadlines?.release(ticket)
          if (!close()) return
          if (!confirm || connectionErrorCause(error) !== undefined) {
            fail(error)
            return
          }
          // An error of the query itself, from a server that may have gone back in time (a table that is not
          // there yet): it counts only if the server is confirmed, else the read is done on the primary.
          void this.confirmed(replica, incarnation, tick()).then((ok) => {
            if (ok) fail(error)
            else resolve(this.redoOnPrimary(model, params, watched))
          })
        },
      )
    })
  }
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

/** Runs the query as it was asked, on the primary. */
function onPrimary(params: ReadRequest): Promise<unknown> {
  return Promise.resolve(params.query(params.args))
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
              router.emit(params.model, params.operation, 'forced-primary')
              if (isInTransaction(params)) return inTransaction(router, params)
              const isRead = params.model !== undefined && READ_OPERATIONS.has(params.operation)
              if (!isRead) return settle(router, params.query(params.args))
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
                router.emit(model, operation, 'transaction')
                return inTransaction(router, params)
              }
              router.emit(model, operation, 'forced-replica', replica)
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
            if (name !== undefined && typeof name !== 'string')
              throw new UnknownReplicaError(
                name,
                router.replicas.map((r) => r.name),
              )
            const replica = name === undefined ? router.pick({ model: undefined, operation: '$replica' }) : router.byName(name)
            if (!replica) {
              throw new NoReplicaAvailableError(undefined, '$replica', router.states())
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
            return router.status()
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
              router.emit(model, operation, 'transaction')
              return inTransaction(router, params)
            }
            if (model === undefined) {
              router.emit(model, operation, 'raw')
              return settle(router, params.query(params.args))
            }
            if (!READ_OPERATIONS.has(operation)) {
              router.emit(model, operation, 'write')
              return settle(router, params.query(params.args))
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
                    router.emit(model, operation, kind)
                    return kind === 'transaction' ? router.transactionQuery(run()) : settle(router, run())
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
