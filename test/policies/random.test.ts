import { describe, expect, it } from 'vitest'
import { random } from '../../src/index.ts'
import { context, candidates, distribution } from '../support/policy-helpers.ts'

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
