import { RoutingPolicyError, UnknownReplicaError } from './errors.js'
import type { PrismaClientLike, ResolvedOptions } from './options.js'
import type { ReplicaCandidate, RoutingContext, RoutingPolicy } from './policies/routing-policy.js'
import type { RouteEvent, RouteReason } from './route-event.js'
import { currentScope } from './scope.js'

/** A replica's live state. Doubles as the candidate a policy sees (read-only to it). */
export interface ReplicaState extends ReplicaCandidate {
  readonly client: PrismaClientLike
  inFlight: number
}

/**
 * The routing brain of one extended client: policy, scopes, the sticky window, in-flight counts, events.
 * Knows nothing of Prisma; read-replicas.ts wires it into the client.
 */
export class Router {
  readonly replicas: readonly ReplicaState[]
  private readonly policy: RoutingPolicy
  private readonly windowMs: number | false
  private readonly onRoute: ((event: RouteEvent) => void) | undefined
  /** Sticky state of the client-wide scope, used outside `runInScope`. */
  private readonly clientScope = { lastWriteAt: -Infinity }

  constructor(options: ResolvedOptions) {
    this.replicas = options.replicas.map((r) => ({ ...r, inFlight: 0 }))
    this.policy = options.policy
    this.windowMs = options.windowMs
    this.onRoute = options.onRoute
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

  /** Chooses a replica through the policy. */
  pick(context: RoutingContext): ReplicaState {
    const chosen = this.policy.pick(this.replicas, context)
    if (!this.replicas.includes(chosen as ReplicaState)) {
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

  /** Reports a decision to `onRoute`. A throwing listener becomes a process warning, never a failed query. */
  emit(model: string | undefined, operation: string, reason: RouteReason, replica?: ReplicaState): void {
    const listener = this.onRoute
    if (!listener) return
    const event: RouteEvent = replica
      ? { model, operation, target: 'replica', replica: replica.name, reason }
      : { model, operation, target: 'primary', reason }
    try {
      listener(event)
    } catch (error) {
      process.emitWarning(
        `onRoute threw: ${error instanceof Error ? error.message : String(error)}`,
        'PrismaReplicaRouterWarning',
      )
    }
  }
}
