import type { ReplicaCandidate, RoutingPolicy } from './routing-policy.js'

/**
 * Smooth weighted round-robin (as in nginx): over any run of picks each candidate gets a share proportional to
 * its `weight`, interleaved rather than in bursts, and deterministically. State is kept per replica position
 * (`index`), in a typed array, so a pick costs no lookups beyond an array access per candidate.
 */
export function weighted(): RoutingPolicy {
  let current = new Float64Array(8)
  return {
    name: 'weighted',
    pick(candidates: readonly ReplicaCandidate[]): ReplicaCandidate {
      let total = 0
      let best = candidates[0] as ReplicaCandidate
      let bestWeight = -Infinity
      for (const candidate of candidates) {
        const { index, weight } = candidate
        if (index >= current.length) {
          const grown = new Float64Array(Math.max(index + 1, current.length * 2))
          grown.set(current)
          current = grown
        }
        const value = (current[index] ?? 0) + weight
        current[index] = value
        total += weight
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
