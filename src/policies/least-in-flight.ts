import type { ReplicaCandidate, RoutingPolicy } from './routing-policy.js'

/**
 * Picks the candidate with the fewest queries in flight from this router; ties go round-robin, so a
 * sequential load still spreads over every replica.
 */
export function leastInFlight(): RoutingPolicy {
  let rotation = 0
  return {
    name: 'least-in-flight',
    pick(candidates: readonly ReplicaCandidate[]): ReplicaCandidate {
      const n = candidates.length
      rotation = (rotation + 1) % n
      let best = candidates[rotation % n] as ReplicaCandidate
      for (let i = 1; i < n; i++) {
        const candidate = candidates[(rotation + i) % n] as ReplicaCandidate
        if (candidate.inFlight < best.inFlight) best = candidate
      }
      return best
    },
  }
}
