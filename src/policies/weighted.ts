import type { ReplicaCandidate, RoutingPolicy } from './routing-policy.js'

/**
 * Smooth weighted round-robin (as in nginx): over any run of picks each candidate gets a share proportional to
 * its `weight`, interleaved rather than in bursts, and deterministically.
 */
export function weighted(): RoutingPolicy {
  const current = new Map<string, number>()
  return {
    name: 'weighted',
    pick(candidates: readonly ReplicaCandidate[]): ReplicaCandidate {
      let total = 0
      let best: ReplicaCandidate | undefined
      let bestWeight = -Infinity
      for (const candidate of candidates) {
        const value = (current.get(candidate.name) ?? 0) + candidate.weight
        current.set(candidate.name, value)
        total += candidate.weight
        if (value > bestWeight) {
          best = candidate
          bestWeight = value
        }
      }
      const chosen = best as ReplicaCandidate
      current.set(chosen.name, bestWeight - total)
      return chosen
    },
  }
}
