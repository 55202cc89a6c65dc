import { afterEach, describe, expect, it } from 'vitest'
import { withoutCallSite } from '../../src/prisma/without-call-site.ts'

const limit = Error.stackTraceLimit
afterEach(() => {
  Error.stackTraceLimit = limit
})

describe('withoutCallSite', () => {
  it('creates errors without stack frames inside, and restores the limit after', () => {
    Error.stackTraceLimit = 25
    const inside = withoutCallSite(() => new Error('inside'))
    expect(inside.stack?.split('\n')).toEqual(['Error: inside'])
    expect(Error.stackTraceLimit).toBe(25)
    expect((new Error('outside').stack ?? '').split('\n').length).toBeGreaterThan(1)
  })

  it('restores the limit when the callback throws, and returns what it returns', () => {
    expect(() =>
      withoutCallSite(() => {
        throw new TypeError('boom')
      }),
    ).toThrow('boom')
    expect(Error.stackTraceLimit).toBe(limit)
    expect(withoutCallSite(() => 42)).toBe(42)
  })
})
