import { describe, expect, it } from 'vitest'
import { leastInFlight } from '../../src/index.ts'
import { context, candidates, distribution } from '../support/policy-helpers.ts'

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
