import { describe, expect, it } from 'vitest'
import { encodeConsistencyToken, InvalidConsistencyTokenError, parseConsistencyToken } from '../src/index.ts'

describe('consistency tokens', () => {
  it('round-trip a position and a time in a short ASCII string', () => {
    const point = { lsn: (0x16n << 32n) | 0xb374d848n, time: 1_795_000_000_000 }
    const token = encodeConsistencyToken(point)
    expect(token).toMatch(/^1\.[0-9a-f]+\.[0-9a-z]+$/)
    expect(token.length).toBeLessThanOrEqual(30)
    expect(parseConsistencyToken(token, point.time + 1)).toEqual(point)
  })

  it('clamps a time in the future to now (clock skew, forgery)', () => {
    expect(parseConsistencyToken(encodeConsistencyToken({ lsn: 1n, time: 5000 }), 1000).time).toBe(1000)
  })

  it.each([
    ['empty', '', 'empty'],
    ['truncated', '1.3000', 'not of the form <version>.<position>.<time>'],
    ['wrong version', '9.3000.lz', 'unsupported version 9'],
    ['huge', `1.${'f'.repeat(100)}.lz`, 'longer than 64 characters'],
    ['position over 64 bits', `1.${'f'.repeat(17)}.lz`, 'not of the form <version>.<position>.<time>'],
    ['non-ASCII', '1.3000.ł', 'not of the form <version>.<position>.<time>'],
    ['upper case', '1.3000ABC.lz', 'not of the form <version>.<position>.<time>'],
    ['not a string', 42, 'expected a string, got number'],
    ['null', null, 'expected a string, got null'],
  ])('rejects %s with a typed error that never echoes the token', (_label, token, reason) => {
    let error: unknown
    try {
      parseConsistencyToken(token)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InvalidConsistencyTokenError)
    expect((error as InvalidConsistencyTokenError).reason).toBe(reason)
    expect((error as Error).message).toBe(`Invalid consistency token: ${reason}`)
  })
})
