import { RoutingPolicyError, UnknownReplicaError } from './errors.js'
import type { HealthEvent, ReplicaHealth, ReplicaLag, ReplicaStatus } from './health-event.js'
import type { PrismaClientLike, ResolvedOptions } from './options.js'
import type { ReplicaCandidate, RoutingContext, RoutingPolicy } from './policies/routing-policy.js'
import type { RouteEvent, RouteReason } from './route-event.js'
import { currentScope } from './scope.js'

/** A replica's live state. Doubles as the candidate a policy sees (read-only to it). */
export interface ReplicaState extends ReplicaCandidate {
  readonly client: PrismaClientLike
  inFlight: number
  state: ReplicaHealth
  cause: string | undefined
  lag: ReplicaLag | undefined
  replayLsn: string | undefined
  reads: number
  failures: number
}

/**
 * The routing brain of one extended client: policy, scopes, the sticky window, replica health, in-flight
 * counts, events. Knows nothing of Prisma; read-replicas.ts wires it into the client.
 */
export class Router {
  readonly replicas: readonly ReplicaState[]
  private readonly policy: RoutingPolicy
  private readonly windowMs: number | false
  private readonly onRoute: ((event: RouteEvent) => void) | undefined
  private readonly onHealthChange: ((event: HealthEvent) => void) | undefined
  /** Replicas in rotation (state `up`), in configuration order. Rebuilt on every state change only. */
  private usable: readonly ReplicaState[]
  /** Sticky state of the client-wide scope, used outside `runInScope`. */
  private readonly clientScope = { lastWriteAt: -Infinity }

  constructor(options: ResolvedOptions) {
    this.replicas = options.replicas.map((r) => ({
      ...r,
      inFlight: 0,
      state: 'up',
      cause: undefined,
      lag: undefined,
      replayLsn: undefined,
      reads: 0,
      failures: 0,
    }))
    this.usable = this.replicas
    this.policy = options.policy
    this.windowMs = options.windowMs
    this.onRoute = options.onRoute
    this.onHealthChange = options.onHealthChange
  }

  get replicaNames(): string[] {
    return this.replicas.map((r) => r.name)
  }

  private scopeState(): { lastWriteAt: number } {
    const scope = currentScope()
    if (!scope) return this.clientScope
    let state = scope.state.get(this)
    if (!state) {
      state = { lastWriteAt: -Infinity }
      scope.state.set(this, state)
    }
    return state
  }

  /** Records a write (or raw query, or transaction query) in the current scope: opens its sticky window. */
  markWrite(): void {
    if (this.windowMs === false) return
    this.scopeState().lastWriteAt = performance.now()
  }

  /** True when the current scope wrote within the sticky window. */
  isSticky(): boolean {
    if (this.windowMs === false) return false
    return performance.now() - this.scopeState().lastWriteAt < this.windowMs
  }

  /**
   * Chooses a replica in rotation through the policy, leaving out `exclude` (a replica that just failed).
   * `undefined` when none is usable.
   */
  pick(context: RoutingContext, exclude?: ReplicaState): ReplicaState | undefined {
    const candidates = exclude ? this.usable.filter((r) => r !== exclude) : this.usable
    if (candidates.length === 0) return undefined
    const chosen = this.policy.pick(candidates, context)
    if (!candidates.includes(chosen as ReplicaState)) {
      throw new RoutingPolicyError(this.policy.name, 'returned a value that is not one of the candidates it was given')
    }
    return chosen as ReplicaState
  }

  /** The replica called `name`. */
  byName(name: string): ReplicaState {
    const found = this.replicas.find((r) => r.name === name)
    if (!found) throw new UnknownReplicaError(name, this.replicaNames)
    return found
  }

  /** Moves a replica to `state`; reports the change to `onHealthChange` when it is one. */
  setHealth(replica: ReplicaState, state: ReplicaHealth, cause: string, lag?: ReplicaLag): void {
    if (lag) replica.lag = lag
    const previous = replica.state
    if (previous === state) return
    replica.state = state
    replica.cause = cause
    this.usable = this.replicas.filter((r) => r.state === 'up')
    const listener = this.onHealthChange
    if (listener) {
      const event: HealthEvent = lag ? { replica: replica.name, state, previous, cause, lag } : { replica: replica.name, state, previous, cause }
      this.safely('onHealthChange', () => {
        listener(event)
      })
    }
  }

  /** A connection-level failure on a replica: counts it and takes the replica out of rotation at once. */
  fail(replica: ReplicaState, cause: string): void {
    replica.failures += 1
    this.setHealth(replica, 'down', cause)
  }

  /** Every replica with its state, for `$replicaStatus()` and errors. */
  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({
      name: r.name,
      state: r.state,
      cause: r.cause,
      lag: r.lag,
      replayLsn: r.replayLsn,
      inFlight: r.inFlight,
      reads: r.reads,
      failures: r.failures,
    }))
  }

  /** Reports a decision to `onRoute`. A throwing listener becomes a process warning, never a failed query. */
  emit(model: string | undefined, operation: string, reason: RouteReason, replica?: ReplicaState): void {
    const listener = this.onRoute
    if (!listener) return
    const event: RouteEvent = replica
      ? { model, operation, target: 'replica', replica: replica.name, reason }
      : { model, operation, target: 'primary', reason }
    this.safely('onRoute', () => {
      listener(event)
    })
  }

  private safely(name: string, call: () => void): void {
    try {
      call()
    } catch (error) {
      process.emitWarning(
        `${name} threw: ${error instanceof Error ? error.message : String(error)}`,
        'PrismaReplicaRouterWarning',
      )
    }
  }
}
