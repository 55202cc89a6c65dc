import { AsyncLocalStorage } from 'node:async_hooks'
import { type ConsistencyPoint, parseConsistencyToken } from './consistency-token.js'
import { InvalidConsistencyTokenError, isInvalidConsistencyTokenError } from './errors/invalid-consistency-token-error.js'
import type { Position } from './position.js'
import type { ReplicaState } from './router.js'

/**
 * A unit of read-your-writes, typically one HTTP request: a write in a scope pins that scope's reads to the
 * primary for the sticky window; other scopes keep reading from replicas. Opaque.
 */
export class ReplicaScope {
  /** @internal Per-router state, keyed by router, so one scope serves every router it meets. */
  readonly state = new WeakMap<object, ScopeState>()
  /** @internal The last write this scope inherits from a consistency token (another request or instance). */
  readonly seed: ConsistencyPoint | undefined
  /** @internal `runInScope`'s `strict`: a token a router cannot use (another engine's) is an error there too. */
  readonly strict: boolean
  /** @internal `strict` and a malformed token: every query of the scope fails with it, before reaching a server. */
  readonly invalid: InvalidConsistencyTokenError | undefined

  /** @internal */
  constructor(seed?: ConsistencyPoint, strict = false, invalid?: InvalidConsistencyTokenError) {
    this.seed = seed
    this.strict = strict
    this.invalid = invalid
  }
}

/**
 * Read-your-writes state of one scope for one router. Not part of the public API (not exported from the index;
 * declared for the router's own declarations).
 * - `lastWriteAt`: when the last write ended (ms, monotonic clock): window mode and the token's time.
 * - `pending`: the {@link tick} at which the latest write whose primary position is not known yet ended: a
 *   position query started at a later tick covers it (and every write that ended before it).
 * - `required`: the primary WAL position a replica must have replayed to serve this scope.
 * - `openTransactions`: `$transaction` calls of this scope that have not settled yet (each marks the scope
 *   pending when it settles, after COMMIT, never before).
 */
export interface ScopeState {
  lastWriteAt: number
  pending: number | undefined
  required: Position | undefined
  openTransactions: number
  /** Until when (ms, monotonic) reads stay on the primary for a transaction write no `$transaction` call encloses. */
  untrackedUntil: number
  /**
   * Monotonic reads (a `runInScope` scope, LSN mode, `sticky.monotonic`): the scope reads from `home`, the
   * replica of its last replica read, while it can (one server's position only grows, within an incarnation:
   * `homeIncarnation`); leaving it, the next replica must have replayed what `home` served up to `homeReadAt`
   * (the tick its last read there ended), as known from a check of the same incarnation started after it, else
   * from the primary's position after it. A read on the primary, or through a pooled entry, marks the scope
   * pending instead, like a write.
   */
  readonly monotonic: boolean
  home: ReplicaState | undefined
  homeIncarnation: number
  homeReadAt: number
}

let clock = 0

/**
 * @internal A logical clock shared by every router of the process: each call returns a number greater than any
 * returned before. It orders "a write ended" before "a position query started" exactly, whatever the
 * resolution of the wall or monotonic clocks.
 */
export function tick(): number {
  return ++clock
}

/** Options of {@link runInScope}. */
export interface RunInScopeOptions {
  /**
   * A token from `$consistencyToken()` of an earlier request (a cookie, a header), maybe served by another
   * app instance: this scope then reads that write too. An unusable token (empty, truncated, another version,
   * too long, non-ASCII) is ignored unless `strict`; `null` and `undefined` mean none.
   * @default undefined
   * @example { token: req.get('x-consistency-token') }
   */
  readonly token?: string | null | undefined
  /**
   * An unusable token is an error instead of being ignored: every query of the scope that uses it (reads with
   * `sticky` on, writes, transactions) rejects with `InvalidConsistencyTokenError` before reaching any server — a
   * malformed token, or one of another database engine than the client's (a PostgreSQL token given to a MariaDB
   * client, or the reverse). `runInScope` itself never throws for a token: the callback's first query rejects.
   * @default false
   */
  readonly strict?: boolean | undefined
}

const storage = new AsyncLocalStorage<ReplicaScope>()

/**
 * Runs `callback` in a new, independent scope (AsyncLocalStorage) and returns its result. Everything the
 * callback awaits, starts or schedules belongs to that scope. Outside any scope, each extended client is
 * one shared scope of its own.
 *
 * @example Express
 * ```ts
 * app.use((req, res, next) => runInScope(next))
 * ```
 * @example Hono
 * ```ts
 * app.use((c, next) => runInScope(next))
 * ```
 * @example Read-your-writes across requests and app instances (LSN mode)
 * ```ts
 * app.use((req, res, next) => runInScope(next, { token: req.cookies.rw }))
 * // after a write: res.cookie('rw', await prisma.$consistencyToken())
 * ```
 */
export function runInScope<T>(callback: () => PromiseLike<T>, options?: RunInScopeOptions): Promise<T>
export function runInScope<T>(callback: () => T, options?: RunInScopeOptions): T
export function runInScope(callback: () => unknown, options: RunInScopeOptions = {}): unknown {
  let seed: ConsistencyPoint | undefined
  let invalid: InvalidConsistencyTokenError | undefined
  if (options.token !== undefined && options.token !== null) {
    try {
      seed = parseConsistencyToken(options.token)
    } catch (error) {
      // Ignored unless strict; then the scope's queries reject with it (a rejection, not a throw from here).
      if (options.strict === true) invalid = isInvalidConsistencyTokenError(error) ? error : new InvalidConsistencyTokenError('unreadable')
    }
  }
  return storage.run(new ReplicaScope(seed, options.strict === true, invalid), () => {
    const result = callback()
    // Prisma's promises are lazy: they run when awaited, which would be outside the scope. Start them here.
    if (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
      return new Promise((resolve, reject) => {
        ;(result as PromiseLike<unknown>).then(resolve, reject)
      })
    }
    return result
  })
}

/** The scope the caller runs in, or `undefined` outside {@link runInScope}. */
export function currentScope(): ReplicaScope | undefined {
  return storage.getStore()
}
