import { describe, expect, it } from 'vitest'
import { ClientLink } from '../src/server-link.ts'
import { formatLsn, LagTracker, parseLsn, queryPrimaryLsn, queryReplay } from '../src/lag-tracker.ts'
import { ReplicaRouterError } from '../src/errors/index.ts'

describe('LSN', () => {
  it('parses and formats PostgreSQL positions', () => {
    expect(parseLsn('0/0')).toBe(0n)
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n)
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848')
    expect(() => parseLsn('nope')).toThrow(ReplicaRouterError)
  })
})

describe('LagTracker', () => {
  it('an idle primary: a replica that replayed everything has no lag, however much time passes', () => {
    const t = new LagTracker()
    t.record(100n, 0)
    t.record(100n, 5_000)
    expect(t.lagMs(100n, 60_000)).toBe(0)
    expect(t.lagBytes(100n)).toBe(0)
  })

  it('measures time since the primary was first seen past the replay position', () => {
    const t = new LagTracker()
    t.record(100n, 0)
    t.record(200n, 1000)
    t.record(300n, 2000)
    expect(t.lagMs(100n, 2500)).toBe(1500) // behind since the 200 sample
    expect(t.lagMs(250n, 2500)).toBe(500)
    expect(t.lagMs(300n, 2500)).toBe(0)
    expect(t.lagBytes(150n)).toBe(150)
    expect(t.lagBytes(400n)).toBe(0)
  })

  it('keeps the first time a position was seen when the primary does not move', () => {
    const t = new LagTracker()
    t.record(200n, 1000)
    t.record(200n, 2000)
    expect(t.lagMs(100n, 3000)).toBe(2000)
  })

  it('prunes samples no replica needs, keeping answers unchanged', () => {
    const t = new LagTracker()
    for (let i = 1; i <= 10; i++) t.record(BigInt(i * 100), i * 1000)
    const before = t.lagMs(550n, 20_000)
    t.prune(550n)
    expect(t.lagMs(550n, 20_000)).toBe(before)
    expect(t.lagMs(1000n, 20_000)).toBe(0)
  })
})

describe('a sample after a pause (the health check idled)', () => {
  it('counts from the sample before the pause: lag is never under-estimated because of it', () => {
    const t = new LagTracker()
    t.record(100n, 1_000)
    t.record(500n, 61_000, true) // 60 s later, after an idle pause
    expect(t.lagMs(100n, 61_000)).toBe(60_000) // the primary may have passed 100 right after the last sample
    expect(t.lagMs(500n, 61_000)).toBe(0)
    const fresh = new LagTracker()
    fresh.record(500n, 61_000, true) // nothing before the pause: counts from now
    expect(fresh.lagMs(100n, 61_000)).toBe(0)
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
