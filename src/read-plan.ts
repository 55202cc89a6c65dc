/**
 * Deciding where a read goes: the read's plan (primary or which replica, why, what may serve it instead, what
 * must be confirmed afterwards), from the rules, the policy, replica health and the scope's consistency
 * requirements (read-your-writes, monotonic reads). Executing a plan, with failover, is src/replica-reader.ts.
 *
 * A decision that waits (for the primary's WAL position, or a replica's replay check) hands its plan to the
 * executor in the same synchronous step as its last check: a concurrent read of the same scope cannot move the
 * scope's home between the decision and the start of the read.
 */
import type { ResolvedOptions } from './options.js'
import { covers, join, type Position } from './position.js'
import type { ReplayChecks } from './replay-checks.js'
import type { RoutingPolicy } from './policies/routing-policy.js'
import type { StickyKind } from './route-event.js'
import { Router, type ReplicaState } from './router.js'
import type { ScopeState } from './scope.js'
import { singleServer } from './replica-set.js'

/** The replicas allowed to serve a read (`undefined`: any in rotation). */
export type Candidates = ((replica: ReplicaState) => boolean) | undefined

/** A read for the primary. */
export interface PrimaryPlan {
  readonly target: 'primary'
  /** `rule`: a rule names the primary; `sticky`: the scope's writes require it; `fallback`: no replica can serve it. */
  readonly reason: 'rule' | 'sticky' | 'fallback'
  /** With reason `sticky`: the window or an LSN check. */
  readonly sticky?: StickyKind
  /** The monotonic scope whose reads are remembered, if any. */
  readonly watched: ScopeState | undefined
}

/** A read for a replica. */
export interface ReplicaPlan {
  readonly target: 'replica'
  readonly replica: ReplicaState
  /** `rule`: a rule names the replica; `read`: the policy chose it. */
  readonly reason: 'read' | 'rule'
  /** The replicas that may take the read after a connection failure of `replica`. */
  readonly candidates: Candidates
  /** The policy for that second choice (a rule's), `undefined`: the router's. */
  readonly policy: RoutingPolicy | undefined
  /** The monotonic scope whose reads are remembered, if any. */
  readonly watched: ScopeState | undefined
  /** The choice relied on what was known of the replica (a position, or that it is the scope's home): confirm it after the read. */
  readonly confirm: boolean
}

/** Where one read goes. */
export type ReadPlan = PrimaryPlan | ReplicaPlan

/** Runs a plan (src/replica-reader.ts). */
export type Execute = (plan: ReadPlan) => Promise<unknown>

/**
 * Replicas `allowed` that are known to have replayed `position`. Never a pooled entry: its positions belong to
 * whichever server answered.
 */
export function knownAtLeast(position: Position, allowed: Candidates): (r: ReplicaState) => boolean {
  return (r) => (!allowed || allowed(r)) && singleServer(r) && r.replay !== undefined && covers(r.replay, position)
}

const primary = (reason: PrimaryPlan['reason'], watched: ScopeState | undefined, sticky?: StickyKind): PrimaryPlan =>
  sticky === undefined ? { target: 'primary', reason, watched } : { target: 'primary', reason, sticky, watched }

/** Decides reads. */
export class ReadPlanner {
  /** @param replay learns a replica's replay position when a read needs it (src/replay-checks.ts). */
  constructor(
    private readonly router: Router,
    private readonly rules: ResolvedOptions['rules'],
    private readonly replay: Pick<ReplayChecks, 'reach'>,
  ) {}

  /**
   * Decides where a read of `model` goes and runs it with `execute`: at once whenever it can be (no rule to the
   * primary, no write of the scope waiting for its primary position, no monotonic scope), so that the read is one
   * promise chain from the caller to the replica's client.
   */
  read(model: string | undefined, operation: string, execute: Execute): Promise<unknown> {
    const router = this.router
    const rule = model === undefined ? undefined : this.rules.get(model)
    const scope = router.mode === 'lsn' ? router.scopeState() : undefined
    // The scope whose reads are remembered for monotonic reads (a runInScope scope in LSN mode), if any.
    const watched = scope?.monotonic === true ? scope : undefined
    if (rule === 'primary') return execute(primary('rule', watched))
    if (router.mode === 'window' && router.isSticky()) return execute(primary('sticky', undefined, 'window'))
    // A rule naming a replica restricts the candidates to it; a rule with a policy replaces the policy.
    const named = typeof rule === 'string' ? router.set.byName(rule) : undefined
    const policy = typeof rule === 'object' ? rule : undefined
    const reason = named ? 'rule' : 'read'
    const allowed: Candidates = named && ((r) => r === named)
    if (scope) {
      if (Router.untracked(scope)) return execute(primary('sticky', watched, 'lsn'))
      // Before the first health round, a scope that requires a position goes to the primary without asking for
      // it while no replica is known to be one server (none could serve it: see singleServer). A cold process's
      // first request does not pay that round trip (bench/cold-start.ts).
      if (!router.set.checked && (scope.pending !== undefined || scope.required !== undefined) && !router.set.anyUsable((r) => singleServer(r) && (!allowed || allowed(r)))) {
        return execute(primary('sticky', watched, 'lsn'))
      }
      if (watched) return this.monotonic(model, operation, watched, reason, allowed, policy, execute)
      // No write pending in this scope -> no round trip to learn the position it requires.
      if (scope.pending !== undefined) {
        return router.requirement().then((required) => this.causal(model, operation, required, reason, allowed, policy, undefined, execute))
      }
      if (scope.required !== undefined) return this.causal(model, operation, scope.required, reason, allowed, policy, undefined, execute)
    }
    const replica = router.set.pick({ model, operation }, undefined, allowed, policy)
    if (!replica) return execute(primary('fallback', undefined))
    return execute({ target: 'replica', replica, reason, candidates: allowed, policy, watched: undefined, confirm: false })
  }

  /**
   * A read of a monotonic scope: on its home replica while that can serve it (one server's position only
   * grows), else elsewhere with the home's bound added to what the scope requires.
   */
  private async monotonic(
    model: string | undefined,
    operation: string,
    scope: ScopeState,
    reason: 'read' | 'rule',
    allowed: Candidates,
    policy: RoutingPolicy | undefined,
    execute: Execute,
  ): Promise<unknown> {
    const router = this.router
    const canStay = (home: ReplicaState) => Router.canStay(home, scope) && (!allowed || allowed(home))
    if (scope.home && !canStay(scope.home)) router.leaveHome(scope)
    const required = await router.requirement()
    if (required === 'primary') return await execute(primary('sticky', scope, 'lsn'))
    const deadline = router.waitDeadline()
    // Asked again after each wait: a concurrent read of the scope may have moved its home meanwhile.
    const stay = scope.home
    if (stay && canStay(stay)) {
      if (required === undefined || (stay.replay !== undefined && covers(stay.replay, required))) {
        return await execute(onHome(stay, reason, allowed, policy, scope))
      }
      // The home has not replayed the scope's write as far as we know: ask it (the answer is also its bound).
      if ((await this.replay.reach(stay, required, deadline)) && scope.home === stay && canStay(stay) && stay.replay !== undefined && covers(stay.replay, required)) {
        return await execute(onHome(stay, reason, allowed, policy, scope))
      }
    }
    if (scope.home) router.leaveHome(scope)
    return await this.causal(model, operation, await router.requirement(), reason, allowed, policy, scope, execute, deadline)
  }

  /**
   * A read that must see the scope's writes (and, in a monotonic scope, what it read): on a replica known to
   * have replayed `required`, else the primary. `watched`: the monotonic scope, if any. Synchronous up to the
   * read while a replica is known to be far enough (the common case after a write).
   */
  private causal(
    model: string | undefined,
    operation: string,
    required: Position | 'primary' | undefined,
    reason: 'read' | 'rule',
    allowed: Candidates,
    policy: RoutingPolicy | undefined,
    watched: ScopeState | undefined,
    execute: Execute,
    deadline?: number,
  ): Promise<unknown> {
    if (required === 'primary') return execute(primary('sticky', watched, 'lsn'))
    // A pooled entry's positions belong to whichever server answered: never for a read with a requirement.
    const candidates = required === undefined ? allowed : knownAtLeast(required, allowed)
    const replica = this.router.set.pick({ model, operation }, undefined, candidates, policy)
    // A read chosen by a known position is confirmed afterwards: its server may have gone back since.
    if (replica) return execute({ target: 'replica', replica, reason, candidates, policy, watched, confirm: required !== undefined })
    if (required === undefined || !candidates) return execute(primary('fallback', watched))
    return this.askMostAdvanced(model, operation, required, reason, allowed, candidates, policy, watched, execute, deadline ?? this.router.waitDeadline())
  }

  /**
   * No replica is KNOWN to have replayed the scope's write: asks the most advanced one (one round trip, shared
   * with its other readers), and again until `deadline` while it falls short (`sticky.waitMs`), else the primary.
   */
  private async askMostAdvanced(
    model: string | undefined,
    operation: string,
    required: Position,
    reason: 'read' | 'rule',
    allowed: Candidates,
    candidates: (replica: ReplicaState) => boolean,
    policy: RoutingPolicy | undefined,
    watched: ScopeState | undefined,
    execute: Execute,
    deadline: number,
  ): Promise<unknown> {
    const candidate = this.router.set.mostAdvanced({ model, operation }, (r) => (!allowed || allowed(r)) && singleServer(r), policy)
    if (!candidate) {
      // Replicas in rotation that may be several servers (pooled, or not identified yet): the scope's
      // requirement sends the read to the primary, not a lack of replicas.
      const any = this.router.set.anyUsable((r) => !allowed || allowed(r))
      return await execute(any ? primary('sticky', watched, 'lsn') : primary('fallback', watched))
    }
    if ((await this.replay.reach(candidate, required, deadline)) && candidates(candidate)) {
      return await execute({ target: 'replica', replica: candidate, reason, candidates, policy, watched, confirm: true })
    }
    return await execute(primary('sticky', watched, 'lsn'))
  }
}

/**
 * A read on the scope's home, confirmed afterwards once the scope has read there before or requires a
 * position. If the home fails under it, another replica may take it only if it is known to have replayed what
 * the home served (a check of the home started after its last read), else the primary.
 */
function onHome(home: ReplicaState, reason: 'read' | 'rule', allowed: Candidates, policy: RoutingPolicy | undefined, scope: ScopeState): ReplicaPlan {
  const required = scope.required
  const bound = Router.homeBound(home, scope)
  const floor = bound === undefined ? undefined : required === undefined ? bound : join(bound, required)
  const candidates = floor === undefined ? () => false : knownAtLeast(floor, allowed)
  const confirm = required !== undefined || scope.homeReadAt > 0
  return { target: 'replica', replica: home, reason, candidates, policy, watched: scope, confirm }
}
