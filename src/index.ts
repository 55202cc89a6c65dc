export { readReplicas } from './read-replicas.js'
export type {
  PolicyName,
  PrismaClientLike,
  ReadReplicasOptions,
  ReplicaConfig,
  StickyOptions,
} from './options.js'
export type { RouteEvent, RouteReason, RouteTarget } from './route-event.js'
export { runInScope, currentScope, ReplicaScope } from './scope.js'
export type { ReplicaCandidate, RoutingContext, RoutingPolicy } from './policies/routing-policy.js'
export { roundRobin } from './policies/round-robin.js'
export { random, type RandomPolicyOptions } from './policies/random.js'
export { weighted } from './policies/weighted.js'
export { leastInFlight } from './policies/least-in-flight.js'
export {
  InvalidOptionError,
  ReplicaInTransactionError,
  ReplicaRouterError,
  ReplicaWriteError,
  RoutingPolicyError,
  UnknownReplicaError,
  isInvalidOptionError,
  isReplicaInTransactionError,
  isReplicaRouterError,
  isReplicaWriteError,
  isUnknownReplicaError,
} from './errors.js'
