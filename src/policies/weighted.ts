import { describeValue } from '../describe-value.js'
import { RoutingPolicyError } from '../errors/index.js'
import type { ReplicaCandidate, RoutingPolicy } from './routing-policy.js'

/** The largest replica position kept (far beyond any real replica list). */
const MAX_INDEX = 65_535

/**
 * Smooth weighted round-robin (as in nginx): over any run of picks each candidate gets a share proportional to
 * its `weight`, interleaved rather than in bursts, and deterministically. State is kept per replica position
 * (`index`), in a typed array, so a pick costs no lookups beyond an array access per candidate; a candidate
 * whose `index` is not such a position is refused with a TypeError (state would be lost silently otherwise).
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
        // One check for both: a non-negative integer (`>>> 0` keeps it) within the array.
        if (index >>> 0 !== index || index >= current.length) {
          if (index >>> 0 !== index || index > MAX_INDEX) {
            throw new RoutingPolicyError(
              'weighted',
              `expected candidate \`index\` to be an integer from 0 to ${String(MAX_INDEX)} (the replica's position in \`replicas\`), got ${describeValue(index)}`,
            )
          }
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
