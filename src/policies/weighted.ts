import type { ReplicaCandidate, RoutingPolicy } from './routing-policy.js'

/**
 * Smooth weighted round-robin (as in nginx): over any run of picks each candidate gets a share proportional to
 * its `weight`, interleaved rather than in bursts, and deterministically. State is kept per replica position
 * (`index`), so a pick costs no lookups beyond an array access per candidate.
 */
export function weighted(): RoutingPolicy {
  const current: number[] = []
  return {
    name: 'weighted',
    pick(candidates: readonly ReplicaCandidate[]): ReplicaCandidate {
      let total = 0
      let best = candidates[0] as ReplicaCandidate
      let bestWeight = -Infinity
      for (const candidate of candidates) {
        const value = (current[candidate.index] ?? 0) + candidate.weight
        current[candidate.index] = value
        total += candidate.weight
        if (value > bestWeight) {
          best = candidate
          bestWeight = value
        }
      }
      current[best.index] = bestWeight - total
      return best
    },
  }
}
