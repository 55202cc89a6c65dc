import { describe, expect, it } from 'vitest'
import { roundRobin } from '../../src/index.ts'
import { context, candidates, distribution } from '../support/policy-helpers.ts'

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
