import { describe, expect, it } from 'vitest'
import { MariadbGtidPosition } from '../src/dialects/mariadb-gtid.ts'
import { MysqlGtidSet } from '../src/dialects/mysql-gtid.ts'
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

describe('version 2 tokens (GTID positions)', () => {
  const domains = (n: number) => MariadbGtidPosition.parse(Array.from({ length: n }, (_, i) => `${String(1_000_000 + i)}-1-1`).join(','))

  it('round-trip a MariaDB position and a MySQL set, and every position that fits (the limits of encode and parse agree)', () => {
    const time = 1_795_000_000_000
    for (const lsn of [MariadbGtidPosition.parse('0-1-1836,1-2-40'), MysqlGtidSet.parse('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18')]) {
      const token = encodeConsistencyToken({ lsn, time })
      expect(token).toMatch(/^2\.[my]\./)
      expect(parseConsistencyToken(token, time + 1).lsn.toString()).toBe(lsn.toString())
    }
    for (let n = 30; n <= 60; n++) {
      const token = encodeConsistencyToken({ lsn: domains(n), time })
      const parsed = parseConsistencyToken(token, time + 1) // never a token of ours that its parser refuses
      if (token.startsWith('2.')) expect(parsed.lsn.toString()).toBe(domains(n).toString())
      else expect(parsed.lsn).toBe(0n)
    }
  })

  it('a position too long for a token: the time only (a router in LSN mode then asks the primary afresh)', () => {
    expect(encodeConsistencyToken({ lsn: domains(60), time: 36 })).toBe('1.0.10')
  })
})
