import { describe, expect, it } from 'vitest'
import { RoutingPolicyError, weighted } from '../../src/index.ts'
import { context, candidates, distribution } from '../support/policy-helpers.ts'

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

  it('keeps its proportions for replicas at positions beyond its initial state (it grows), and refuses a made-up index', () => {
    const list = candidates([1, 2, 5]).map((c, i) => ({ ...c, index: 20 + i * 9 }))
    expect(distribution(weighted(), list, 8000)).toEqual({ r0: 1000, r1: 2000, r2: 5000 })
    for (const index of [-1, 0.5, Number.NaN, 65_536]) {
      expect(() => weighted().pick([{ ...list[0]!, index }], context)).toThrow(
        new RoutingPolicyError(
          'weighted',
          `expected candidate \`index\` to be an integer from 0 to 65535 (the replica's position in \`replicas\`), got \`${String(index)}\` (number)`,
        ),
      )
    }
  })
})
