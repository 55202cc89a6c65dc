export { readReplicas } from './read-replicas.js'
export type { HealthOptions, MaxLagOptions, PolicyName, PrismaClientLike, ReadReplicasOptions, ReplicaConfig, StickyOptions } from './options.js'
export type { RouteEvent, RouteReason, RouteTarget } from './route-event.js'
export type { HealthEvent, ReplicaHealth, ReplicaLag, ReplicaStatus } from './health-event.js'
export { runInScope, currentScope, ReplicaScope, type RunInScopeOptions } from './scope.js'
export type { RouterStats } from './router.js'
export type { StickyKind } from './route-event.js'
export { parseConsistencyToken, encodeConsistencyToken, type ConsistencyPoint } from './consistency-token.js'
export type { ReplicaCandidate, RoutingContext, RoutingPolicy } from './policies/routing-policy.js'
export { roundRobin } from './policies/round-robin.js'
export { random, type RandomPolicyOptions } from './policies/random.js'
export { weighted } from './policies/weighted.js'
export { leastInFlight } from './policies/least-in-flight.js'
export {
  InvalidConsistencyTokenError,
  InvalidOptionError,
  NoReplicaAvailableError,
  NotPrimaryError,
  ReplicaInTransactionError,
  ReadOnlyTransactionError,
  RecoveryConflictError,
  ReplicaModelError,
  ReplicaRouterError,
  ReplicaWriteError,
  RoutingPolicyError,
  TimeoutError,
  UnknownReplicaError,
  isInvalidConsistencyTokenError,
  isInvalidOptionError,
  isNoReplicaAvailableError,
  isNotPrimaryError,
  isReadOnlyTransactionError,
  isRecoveryConflictError,
  isReplicaInTransactionError,
  isReplicaModelError,
  isReplicaRouterError,
  isReplicaWriteError,
  isRoutingPolicyError,
  isTimeoutError,
  isUnknownReplicaError,
} from './errors/index.js'
export { prometheusMetrics, type ReplicaRouterClientLike } from './prometheus.js'
export { SPAN_ATTRIBUTES } from './observability.js'
export { assertPrimary } from './check-primary.js'
