import type { ReplicaCandidate, RoutingPolicy } from './routing-policy.js'

/** Cycles through the candidates in order. The default policy. */
export function roundRobin(): RoutingPolicy {
  let next = 0
  return {
    name: 'round-robin',
    pick(candidates: readonly ReplicaCandidate[]): ReplicaCandidate {
      const index = next % candidates.length
      next = (index + 1) % Number.MAX_SAFE_INTEGER
      return candidates[index] as ReplicaCandidate
    },
  }
}
