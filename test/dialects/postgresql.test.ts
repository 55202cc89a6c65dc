import { describe, expect, it } from 'vitest'
import { formatLsn, parseLsn, postgresql, queryPrimaryLsn, queryReplay } from '../../src/dialects/postgresql.ts'
import { ReplicaRouterError } from '../../src/errors/index.ts'
import { ClientLink } from '../../src/server-link.ts'

describe('LSN', () => {
  it('parses and formats PostgreSQL positions', () => {
    expect(parseLsn('0/0')).toBe(0n)
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n)
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848')
    expect(() => parseLsn('nope')).toThrow(ReplicaRouterError)
  })
})

describe('position queries', () => {
  const client = (row: object) => new ClientLink({ $queryRawUnsafe: () => Promise.resolve([row]) })

  it('takes off the page header an idle primary’s insert position points past (replicas stop at the boundary)', async () => {
    expect(await queryPrimaryLsn(client({ lsn: '0/4000028', header: 40 }), false)).toBe(0x4000000n)
    expect(await queryPrimaryLsn(client({ lsn: '0/4002018', header: 24 }), false)).toBe(0x4002000n)
    expect(await queryPrimaryLsn(client({ lsn: '0/4002018', header: 0 }), false)).toBe(0x4002018n)
  })

  it('reads a replay position and the server that answered; SQL NULL as unknown', async () => {
    expect(await queryReplay(client({ lsn: '16/B374D848', server: '10.0.0.7:5432@2026-11-30 06:00:00+00', received: '16/B374D900' }), false)).toEqual({
      lsn: 0x16b374d848n,
      received: 0x16b374d900n,
      server: '10.0.0.7:5432@2026-11-30 06:00:00+00',
    })
    expect(await queryReplay(client({ lsn: null, received: null, server: null }), false)).toEqual({ lsn: undefined, received: undefined, server: undefined })
  })
})

describe('the PostgreSQL dialect', () => {
  it('cannot report positions: a missing or unsupported function, no privilege; anything else is a failure of the moment', () => {
    const withState = (code: string) => Object.assign(new Error('x'), { code })
    expect(['42883', '0A000', '42501'].map((code) => postgresql.positionUnavailable(withState(code)))).toEqual([true, true, true])
    expect(postgresql.positionUnavailable(withState('57014'))).toBe(false)
    expect(postgresql.format(0x16b374d848n)).toBe('16/B374D848')
  })
})
