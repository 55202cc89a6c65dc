import type { ResolvedOptions, ResolvedReplica } from './options.js'
import { connectionErrorCause } from './connection-error.js'
import type { Dialect } from './dialects/dialect.js'
import { postgresql } from './dialects/postgresql.js'
import { join, type Position } from './position.js'
import type { ConsistencyPoint } from './consistency-token.js'
import { PrimaryPosition } from './primary-position.js'
import { RouteReporter } from './route-reporter.js'
import type { RouteReason } from './route-event.js'
import { ReplicaSet, singleServer, type ReplicaState } from './replica-set.js'

export type { ReplicaState } from './replica-set.js'
import { InvalidConsistencyTokenError } from './errors/index.js'
import { currentScope, type ReplicaScope, type ScopeState, tick } from './scope.js'
import { ClientLink, type ServerLink } from './server-link.js'

/** The scope needs a replica that has replayed at least `lsn` (its requirement only grows). */
function raiseRequired(state: ScopeState, lsn: Position): void {
  state.required = state.required === undefined ? lsn : join(state.required, lsn)
}

/** The scope needs the primary's position from a query started after tick `at` (the latest such tick wins). */
function raisePending(state: ScopeState, at: number): void {
  if (state.pending === undefined || at > state.pending) state.pending = at
}

/** `query`, after which (settled either way) `state`, if any, needs the primary's position from then on. */
async function raisingAfter<T>(query: PromiseLike<T>, state: ScopeState | undefined): Promise<T> {
  try {
    return await query
  } finally {
    if (state) raisePending(state, tick())
  }
}

function newScopeState(lastWriteAt: number, required: Position | undefined, monotonic: boolean): ScopeState {
  return {
    lastWriteAt,
    pending: undefined,
    required,
    openTransactions: 0,
    untrackedUntil: -Infinity,
    monotonic,
    home: undefined,
    homeIncarnation: 0,
    homeReadAt: 0,
  }
}

/** Router-wide counters returned by `$routerStats()`. */
export interface RouterStats {
  /**
   * The read-your-writes mode in force: `lsn` (PostgreSQL WAL positions) or `gtid` (MariaDB / MySQL GTID
   * positions) for `sticky: { mode: 'lsn' }`, which falls back to `window` where positions are unavailable;
   * `window`; `false` (`sticky: false`).
   */
  readonly mode: 'lsn' | 'gtid' | 'window' | false
  /**
   * Where the router sent queries, counted whether or not anyone listens to `onRoute`: `primary` by the reason
   * of each route (`write`, `raw`, `transaction` — each query of a transaction —, `sticky`, `fallback`, `rule`,
   * `forced-primary`, `retry`; a reason never used is absent), and each replica's reads by its name (as
   * `$replicaStatus()[i].reads`).
   * @example { primary: { write: 12, sticky: 3 }, replicas: { 'replica-1': 240, 'replica-2': 238 } }
   */
  readonly routed: {
    /** Queries sent to the primary, by reason. */
    readonly primary: Readonly<Partial<Record<RouteReason, number>>>
    /** Reads each replica served, by name. */
    readonly replicas: Readonly<Record<string, number>>
  }
  /** `pg_current_wal_insert_lsn()` queries sent to the primary for read-your-writes (at most one per write, shared). */
  readonly positionQueries: number
  /** `pg_last_wal_replay_lsn()` checks sent to replicas because no cached position sufficed. */
  readonly replicaChecks: number
  /**
   * Reads retried after a connection-level failure on a replica: each such read once, however many attempts it
   * took (another replica, then the primary); `onRoute` reports each attempt with reason `retry`.
   */
  readonly retries: number
  /** Reads that found no usable replica (sent to the primary, or refused with `fallback: 'error'`). */
  readonly fallbacks: number
  /**
   * Times a read ran past `readTimeoutMs` on a replica whose server still answered the router's probe: the
   * server is busy, not down, so the read went on there (never retried elsewhere) and the replica stayed in
   * rotation.
   */
  readonly slowReads: number
  /**
   * Reads a replica cancelled for a conflict with recovery (SQLSTATE 40001, "canceling statement due to conflict
   * with recovery": WAL replay had to remove row versions the read could see), each retried on another replica
   * or the primary (and counted in `retries`), and read-only transactions cancelled that way (each failed with
   * `RecoveryConflictError`). The replica stays in rotation: it is a condition of the replica, not an outage.
   */
  readonly recoveryConflicts: number
  /**
   * Reads given up because their connection no longer carried them: past `readTimeoutMs` twice, the replica's
   * server answered the router's probe but ran no statement as old as the read (a half-open connection: the
   * server's side gone without a word). Each was done elsewhere (counted in `retries` too); the replica stayed
   * in rotation. The dead connection stays in that replica client's pool until its socket fails: give the pool
   * TCP keepalive or a query timeout.
   */
  readonly lostReads: number
  /**
   * Rounds of health checks run so far. They pause after `health.idleAfterMs` without a routed query (and the
   * router's own connections close) and resume with the next query.
   */
  readonly healthChecks: number
  /**
   * Reads done again on the primary because the replica that answered could not be confirmed afterwards: it
   * restarted or went back in time meanwhile, became unreachable, or turned out to be several servers.
   */
  readonly unconfirmed: number
}

/**
 * Consistency, for one extended client: the read-your-writes state of each scope (the sticky window, writes in
 * flight, the primary position they require, monotonic reads' home replica), transactions, consistency tokens,
 * and the fall back from LSN to window mode. It holds the replica set (src/replica-set.ts: callers use `router.set`) and route reporting
 * (src/route-reporter.ts: `router.report`). Knows nothing of Prisma; read-replicas.ts wires
 * it into the client.
 */
export class Router {
  /** The replicas, their state, rotation and the policy's choice (src/replica-set.ts). */
  readonly set: ReplicaSet
  /** The set's replicas. */
  readonly replicas: readonly ReplicaState[]
  /** The read-your-writes mode; `lsn` turns into `window` if the servers cannot report WAL positions. */
  mode: 'lsn' | 'window' | false
  private readonly windowMs: number
  /** Route reporting: events, DEBUG, OpenTelemetry, counters (src/route-reporter.ts). */
  readonly report: RouteReporter
  /** Sticky state of the client-wide scope, used outside `runInScope`. */
  private readonly clientScope: ScopeState = newScopeState(-Infinity, undefined, false)
  /** Monotonic reads for `runInScope` scopes (LSN mode, `sticky.monotonic`). */
  private readonly monotonic: boolean
  /** How long a read may wait for a replica to replay its scope's writes (`sticky.waitMs`, LSN mode), else 0. */
  private readonly waitMs: number
  /** The primary's WAL position after writes (LSN mode). */
  readonly primaryPosition: PrimaryPosition
  /**
   * @param queryPrimaryLsn asks the primary for its WAL position (read-your-writes).
   * @param linkTo how the router's own queries reach a replica (default: through its client).
   */
  constructor(
    options: ResolvedOptions,
    queryPrimaryLsn: () => Promise<Position>,
    linkTo: (replica: ResolvedReplica) => ServerLink = (r) => new ClientLink(r.client),
    /** The database engine's positions (src/dialects/). */
    readonly dialect: Dialect = postgresql,
  ) {
    this.report = new RouteReporter(options)
    this.set = new ReplicaSet(options, this.report, linkTo, dialect)
    this.replicas = this.set.replicas
    this.mode = options.sticky === false ? false : options.sticky.mode
    this.windowMs = options.sticky !== false && options.sticky.mode === 'window' ? options.sticky.windowMs : 2000
    this.monotonic = options.sticky !== false && options.sticky.mode === 'lsn' && options.sticky.monotonic
    this.waitMs = options.sticky !== false && options.sticky.mode === 'lsn' ? options.sticky.waitMs : 0
    this.primaryPosition = new PrimaryPosition(queryPrimaryLsn)
  }

  /** Throws the scope's InvalidConsistencyTokenError (`strict` and a malformed token) before anything is routed. */
  scopeUsable(): void {
    const invalid = currentScope()?.invalid
    if (invalid) throw invalid
  }

  /** The read-your-writes state of the current scope (`runInScope`), or of the client outside any scope. */
  scopeState(): ScopeState {
    const scope = currentScope()
    if (!scope) return this.clientScope
    if (scope.invalid) throw scope.invalid // strict and a malformed token: no query of the scope runs
    let state = scope.state.get(this)
    if (!state) {
      const seed = this.usable(scope)
      state = seed
        ? newScopeState(performance.now() - (Date.now() - seed.time), seed.lsn === 0n ? undefined : seed.lsn, this.monotonic)
        : newScopeState(-Infinity, undefined, this.monotonic)
      // A token without a position (`0n`: from window mode, or a GTID position too long for a token): in LSN mode
      // the scope needs the primary's position from a query started now, which covers the token's write (it ended
      // before the token was made).
      if (seed?.lsn === 0n && this.mode === 'lsn') state.pending = tick()
      scope.state.set(this, state)
    }
    return state
  }

  /**
   * The scope's token, if this router can use it: a WAL position on PostgreSQL, a GTID position on MariaDB /
   * MySQL, or a token with a time only (any engine). Another engine's token is ignored, or, in a `strict` scope,
   * an InvalidConsistencyTokenError.
   */
  private usable(scope: ReplicaScope): ConsistencyPoint | undefined {
    const seed = scope.seed
    if (seed === undefined || seed.lsn === 0n || (typeof seed.lsn === 'bigint') === (this.dialect.name === 'postgresql')) return seed
    if (scope.strict) {
      const kind = typeof seed.lsn === 'bigint' ? 'PostgreSQL' : seed.lsn.kind === 'mariadb' ? 'MariaDB' : 'MySQL'
      throw new InvalidConsistencyTokenError(
        `a ${kind} token, given to a client of another database engine (${this.dialect.name === 'postgresql' ? 'PostgreSQL' : 'MariaDB / MySQL'})`,
      )
    }
    return undefined
  }

  /** A write (or raw query) starts in the current scope. */
  beginWrite(): void {
    if (this.mode === false) return
    this.scopeState().lastWriteAt = performance.now()
  }

  /**
   * A write ended (committed, or never will be): window mode's window runs from now; LSN mode needs the
   * primary's position from a query started after now. `state`: the scope the write was sent from.
   */
  endWrite(state: ScopeState = this.scopeState()): void {
    if (this.mode === false) return
    state.lastWriteAt = performance.now()
    state.pending = tick()
  }

  /**
   * A query of the application's that may have written has settled on the primary (or a transaction with one
   * has committed), whichever client sent it (src/prisma/engine-queries.ts): it counts for the current scope as a
   * write through the routed client does.
   */
  observedWrite(): void {
    this.endWrite()
  }

  /**
   * A read of the application's has settled on the primary, whichever client sent it: in a monotonic scope, later
   * reads need the primary's position after it (as after {@link primaryRead}).
   */
  observedRead(): void {
    const watched = this.watchedScope()
    if (watched) watched.pending = tick()
  }

  /**
   * Runs a `$transaction` of the current scope. It counts as one write that ends when the transaction settles
   * (after COMMIT): a read of the scope that runs while it is open needs nothing of it (nothing of it is
   * visible before COMMIT, on any server), and reads after it need the primary's position after COMMIT.
   * Read-only transactions count too: their reads saw the primary's latest state.
   */
  async transaction<T>(run: () => PromiseLike<T>): Promise<T> {
    if (this.mode === false) return await run()
    const state = this.scopeState()
    state.openTransactions += 1
    state.lastWriteAt = performance.now()
    try {
      return await run()
    } finally {
      state.openTransactions -= 1
      this.endWrite(state)
    }
  }

  /**
   * A query is sent inside a transaction from the current scope. Its enclosing {@link transaction} accounts
   * for it; one that no tracked transaction of this scope encloses (a scope opened inside a transaction's
   * callback) is taken as committed when it ends, and keeps the scope on the primary for the window as well,
   * since its COMMIT comes later. Returns `query` itself (Prisma settles the queries of a batch in the order it
   * sees them settle: no step is added), with the accounting attached first.
   */
  transactionQuery<T>(query: PromiseLike<T>): PromiseLike<T> {
    if (this.mode === false) return query
    const state = this.scopeState()
    if (state.openTransactions > 0) return query
    const settled = (): void => {
      this.endWrite(state)
      state.untrackedUntil = performance.now() + this.windowMs
    }
    if (query instanceof Promise) {
      query.then(settled, settled)
      return query
    }
    return whenRun(query, settled)
  }

  /**
   * A query on the primary that may have written what its text does not show (a classified raw read no replica
   * has served yet). LSN mode: later reads of the scope need the primary's position after it, whether it
   * succeeded or failed. Window mode: a read (the window is not renewed: a scope reading on the primary would
   * never return to replicas).
   */
  mayHaveWritten<T>(query: PromiseLike<T>): Promise<T> {
    return raisingAfter(query, this.mode === 'lsn' ? this.scopeState() : undefined)
  }

  /** Window mode: true when the current scope wrote within the window. */
  isSticky(): boolean {
    if (this.mode !== 'window') return false
    return performance.now() - this.scopeState().lastWriteAt < this.windowMs
  }

  /** LSN mode: true while `state` must stay on the primary for a write of a transaction it cannot follow. */
  static untracked(state: ScopeState): boolean {
    if (state.untrackedUntil === -Infinity) return false // the common case reads no clock
    if (state.untrackedUntil > performance.now()) return true
    state.untrackedUntil = -Infinity
    return false
  }

  /** Until when (`performance.now()`) a read starting now may wait for a replica (`sticky.waitMs`); `-Infinity`: not at all. */
  waitDeadline(): number {
    return this.waitMs > 0 ? performance.now() + this.waitMs : -Infinity
  }

  /**
   * Learns the primary position that covers the scope's pending writes (from a query started after the latest
   * of them ended) and raises the scope's requirement to it. A write that ends meanwhile stays pending.
   */
  private async resolvePending(state: ScopeState): Promise<void> {
    const pending = state.pending
    if (pending === undefined) return
    const lsn = await this.primaryPosition.after(pending)
    raiseRequired(state, lsn)
    if (state.pending === pending) state.pending = undefined
  }

  /**
   * LSN mode: the WAL position a replica must have replayed to serve the current scope (`undefined`: none), or
   * `'primary'` when it cannot be known now (the position query failed).
   */
  async requirement(): Promise<Position | undefined | 'primary'> {
    const state = this.scopeState()
    try {
      await this.resolvePending(state)
    } catch (error) {
      // Only a server that cannot report WAL positions turns LSN mode into window mode; any other failure (a
      // connection, a cancelled statement, a primary in recovery) sends this read to the primary, and the next
      // read asks again.
      if (connectionErrorCause(error) === undefined && this.dialect.positionUnavailable(error)) this.lsnUnsupported(error)
      return 'primary'
    }
    return state.required
  }

  /**
   * The scope's last write (and, in a monotonic scope, what it read) as a consistency point, or `undefined`
   * when the scope has neither written nor read anything that needs one.
   */
  async consistencyPoint(): Promise<ConsistencyPoint | undefined> {
    const state = this.scopeState()
    if (state.home) Router.foldHome(state, state.home)
    if (state.lastWriteAt === -Infinity && state.required === undefined && state.pending === undefined) return undefined
    const time = (): number => Date.now() - (performance.now() - state.lastWriteAt)
    // Window mode (configured, or LSN mode on servers that cannot report positions): the time of the write is
    // all a reader needs; no position is asked for (`0n`: none).
    if (this.mode !== 'lsn') return { lsn: 0n, time: time() }
    // A write begun and not ended yet has no pending mark: a position taken from now covers what has ended.
    if (state.pending === undefined && state.required === undefined) state.pending = tick()
    try {
      await this.resolvePending(state)
    } catch (error) {
      if (connectionErrorCause(error) !== undefined || !this.dialect.positionUnavailable(error)) throw error
      this.lsnUnsupported(error)
      return { lsn: 0n, time: time() }
    }
    return { lsn: state.required ?? 0n, time: time() }
  }

  /** Monotonic reads: true while `home` can serve `scope` as the same server it read from (see ScopeState). */
  static canStay(home: ReplicaState, scope: ScopeState): boolean {
    return home.state === 'up' && singleServer(home) && home.incarnation === scope.homeIncarnation
  }

  /**
   * Monotonic reads: a position at least what `home` served the scope, if known without a round trip: from a
   * check of the same server that started after the scope's last read there ended.
   */
  static homeBound(home: ReplicaState, scope: ScopeState): Position | undefined {
    const known = singleServer(home) && home.incarnation === scope.homeIncarnation && home.replayCheckedAt > scope.homeReadAt
    return known ? home.replay : undefined
  }

  /** Adds what the scope read on `home` to what it requires: a known bound, else the primary's position after. */
  private static foldHome(scope: ScopeState, home: ReplicaState): void {
    if (scope.homeReadAt === 0) return // no read there has ended yet (one in flight marks the scope when it ends)
    const bound = Router.homeBound(home, scope)
    if (bound !== undefined) raiseRequired(scope, bound)
    else raisePending(scope, scope.homeReadAt)
  }

  /** Monotonic reads: the scope stops reading from its home; the next replica must have replayed what it served. */
  leaveHome(scope: ScopeState): void {
    if (!scope.home) return
    Router.foldHome(scope, scope.home)
    scope.home = undefined
    scope.homeReadAt = 0
  }

  /** Monotonic reads: a read of `scope` is sent to `replica`; the first one (not pooled) becomes its home. */
  readingOn(scope: ScopeState, replica: ReplicaState): void {
    if (scope.home === undefined && singleServer(replica)) {
      scope.home = replica
      scope.homeIncarnation = replica.incarnation
    }
  }

  /**
   * Monotonic reads: `replica` answered a read of `scope` that ended at tick `endedAt`. On its home (same
   * incarnation), the home's last read moves there; anywhere else (a retry, a pooled entry, a home left
   * meanwhile), the primary's position after it bounds what it served, as after a write.
   */
  servedBy(scope: ScopeState, replica: ReplicaState, endedAt: number): void {
    if (scope.home === replica && replica.incarnation === scope.homeIncarnation && singleServer(replica)) {
      if (endedAt > scope.homeReadAt) scope.homeReadAt = endedAt
    } else raisePending(scope, endedAt)
  }

  /** The current scope if it is held to monotonic reads (a `runInScope` scope in LSN mode), else `undefined`. */
  watchedScope(): ScopeState | undefined {
    if (this.mode !== 'lsn') return undefined
    const state = this.scopeState()
    return state.monotonic ? state : undefined
  }

  /**
   * A read-only transaction on the primary: in a monotonic scope (`watched`), later reads need the primary's
   * position after it, whether it committed or failed (its callback may have read before failing).
   */
  primaryTransaction<T>(transaction: PromiseLike<T>, watched: ScopeState | undefined): Promise<T> {
    return raisingAfter(transaction, watched)
  }

  /** A read on the primary: in a monotonic scope (`watched`), later reads need the primary's position after it. */
  primaryRead<T>(query: Promise<T>, watched: ScopeState | undefined): Promise<T> {
    if (!watched) return query
    return query.then((result) => {
      watched.pending = tick()
      return result
    })
  }

  /** The servers cannot report WAL positions (e.g. Aurora): LSN mode becomes window mode, said once. */
  lsnUnsupported(error: unknown): void {
    if (this.mode !== 'lsn') return
    this.mode = 'window'
    process.emitWarning(
      `sticky mode 'lsn' needs pg_current_wal_insert_lsn() on the primary; it failed (${error instanceof Error ? (error.message.split('\n').pop() ?? '') : ''}), so this client uses mode 'window' (${String(this.windowMs)} ms)`,
      'PrismaReplicaRouterWarning',
    )
  }

  /** Router-wide counters, for `$routerStats()`. */
  stats(): RouterStats {
    return {
      mode: this.mode === 'lsn' && this.dialect.name !== 'postgresql' ? 'gtid' : this.mode,
      routed: { primary: { ...this.report.primaryByReason }, replicas: Object.fromEntries(this.replicas.map((r) => [r.name, r.reads])) },
      slowReads: this.report.slowReads,
      recoveryConflicts: this.report.recoveryConflicts,
      lostReads: this.report.lostReads,
      healthChecks: this.report.healthChecks,
      positionQueries: this.primaryPosition.queries,
      replicaChecks: this.replicas.reduce((sum, r) => sum + r.checks.queries, 0),
      retries: this.report.retries,
      fallbacks: this.report.fallbacks,
      unconfirmed: this.report.unconfirmed,
    }
  }
}

/**
 * `query` (a query of a batch transaction: Prisma's lazy PrismaPromise, which runs when asked — by `then`, or by
 * the batch's `requestTransaction`, each a run of its own) with `settled` attached to the run the caller asks
 * for, and to no other: asking it here ran it a second time (an extension's batch inserted a row twice).
 */
function whenRun<T>(query: PromiseLike<T>, settled: () => void): PromiseLike<T> {
  let attached = false
  const attach = (run: PromiseLike<unknown>): void => {
    if (attached) return
    attached = true
    run.then(settled, settled)
  }
  return new Proxy(query, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      const method = value as (...args: unknown[]) => unknown
      if (property === 'requestTransaction') {
        return (...args: unknown[]): unknown => {
          const run = method.apply(target, args) as PromiseLike<unknown>
          attach(run)
          return run
        }
      }
      return (...args: unknown[]): unknown => {
        if (property === 'then' || property === 'catch' || property === 'finally') attach(target)
        return method.apply(target, args)
      }
    },
  })
}
