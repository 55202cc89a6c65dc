import { expect } from 'vitest'
import type { ReplicaCandidate, RoutingPolicy } from '../../src/index.ts'

export const context = { model: 'User', operation: 'findMany' }

export function candidates(weights: number[]): ReplicaCandidate[] {
  return weights.map((weight, index) => ({ name: `r${String(index)}`, weight, inFlight: 0, index }))
}

export function distribution(policy: RoutingPolicy, list: readonly ReplicaCandidate[], picks: number): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(list.map((c) => [c.name, 0]))
  for (let i = 0; i < picks; i++) {
    const chosen = policy.pick(list, context)
    expect(list).toContain(chosen)
    counts[chosen.name] = (counts[chosen.name] ?? 0) + 1
  }
  return counts
}
