import type { ReplicaCandidate, RoutingPolicy } from './routing-policy.js'

/** Options of {@link random}. */
export interface RandomPolicyOptions {
  /**
   * Source of randomness in [0, 1).
   * @default Math.random
   */
  readonly random?: (() => number) | undefined
}

/** Picks a candidate uniformly at random, ignoring weights (what `@prisma/extension-read-replicas` does). */
export function random(options: RandomPolicyOptions = {}): RoutingPolicy {
  const rng = options.random ?? Math.random
  return {
    name: 'random',
    pick(candidates: readonly ReplicaCandidate[]): ReplicaCandidate {
      const index = Math.min(candidates.length - 1, Math.floor(rng() * candidates.length))
      return candidates[index] as ReplicaCandidate
    },
  }
}
