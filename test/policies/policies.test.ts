import { describe, expect, it } from 'vitest'
import { leastInFlight, random, roundRobin, weighted, type ReplicaCandidate, type RoutingPolicy } from '../../src/index.ts'

const context = { model: 'User', operation: 'findMany' }

function candidates(weights: number[]): ReplicaCandidate[] {
  return weights.map((weight, index) => ({ name: `r${String(index)}`, weight, inFlight: 0, index }))
}

function distribution(policy: RoutingPolicy, list: readonly ReplicaCandidate[], picks: number): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(list.map((c) => [c.name, 0]))
  for (let i = 0; i < picks; i++) {
    const chosen = policy.pick(list, context)
    expect(list).toContain(chosen)
    counts[chosen.name] = (counts[chosen.name] ?? 0) + 1
  }
  return counts
}

describe('round-robin', () => {
  it('cycles in order and spreads exactly evenly', () => {
    const list = candidates([1, 1, 1])
    const policy = roundRobin()
    expect([0, 1, 2, 3, 4, 5].map(() => policy.pick(list, context).name)).toEqual(['r0', 'r1', 'r2', 'r0', 'r1', 'r2'])
    expect(distribution(roundRobin(), list, 3000)).toEqual({ r0: 1000, r1: 1000, r2: 1000 })
  })

  it('keeps working when the candidate list shrinks', () => {
    const policy = roundRobin()
    const list = candidates([1, 1, 1])
    policy.pick(list, context)
    policy.pick(list, context)
    expect(distribution(policy, list.slice(0, 2), 100)).toEqual({ r0: 50, r1: 50 })
  })
})

describe('random', () => {
  it('uses the injected source of randomness', () => {
    const values = [0, 0.5, 0.99, 0.34]
    const policy = random({ random: () => values.shift() ?? 0 })
    const list = candidates([1, 1, 1])
    expect([0, 1, 2, 3].map(() => policy.pick(list, context).name)).toEqual(['r0', 'r1', 'r2', 'r1'])
  })

  it('is roughly uniform with Math.random (10,000 picks over 2 replicas within 5%)', () => {
    const counts = distribution(random(), candidates([1, 5]), 10_000)
    expect(Math.abs((counts.r0 ?? 0) - 5000)).toBeLessThan(500)
  })

  it('never returns out of range, even for a source returning 1', () => {
    expect(random({ random: () => 1 }).pick(candidates([1, 1]), context).name).toBe('r1')
  })
})

describe('weighted (smooth weighted round-robin)', () => {
  it('serves each replica in proportion to its weight, exactly', () => {
    expect(distribution(weighted(), candidates([1, 2, 5]), 8000)).toEqual({ r0: 1000, r1: 2000, r2: 5000 })
  })

  it('interleaves rather than bursting', () => {
    const policy = weighted()
    const list = candidates([1, 1, 4])
    const sequence = Array.from({ length: 6 }, () => policy.pick(list, context).name)
    expect(sequence.filter((n) => n === 'r2')).toHaveLength(4)
    expect(sequence.join(',')).not.toContain('r2,r2,r2')
  })

  it('adapts to a changed candidate list', () => {
    const policy = weighted()
    const list = candidates([1, 3])
    distribution(policy, list, 7)
    expect(distribution(policy, [list[1]!], 5)).toEqual({ r1: 5 })
  })
})

describe('least-in-flight', () => {
  it('picks the replica with the fewest queries in flight', () => {
    const list = candidates([1, 1, 1]).map((c, i) => ({ ...c, inFlight: [5, 0, 3][i] ?? 0 }))
    const policy = leastInFlight()
    for (let i = 0; i < 10; i++) expect(policy.pick(list, context).name).toBe('r1')
  })

  it('spreads evenly when every replica is idle', () => {
    expect(distribution(leastInFlight(), candidates([1, 1]), 1000)).toEqual({ r0: 500, r1: 500 })
  })
})
