import { describe, expect, it } from 'vitest'
import { MariadbGtidPosition } from '../src/dialects/mariadb-gtid.ts'
import { LagTracker } from '../src/lag-tracker.ts'

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
    t.prune([550n, 700n])
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

describe('GTID positions (a partial order)', () => {
  const g = (text: string) => MariadbGtidPosition.parse(text)

  it('measures lag per domain: behind while any domain of a sample is not applied, in transactions', () => {
    const t = new LagTracker()
    t.record(g('0-1-10,1-1-5'), 0)
    t.record(g('0-1-10,1-1-5'), 500) // nothing new: the first sighting stays
    t.record(g('0-1-12,1-1-5'), 1000)
    expect(t.lagMs(g('0-1-10,1-1-5'), 1500)).toBe(500)
    expect(t.lagMs(g('0-1-11,1-1-9'), 1500)).toBe(500) // ahead in domain 1 does not make up for domain 0
    expect(t.lagMs(g('0-1-12,1-1-5'), 1500)).toBe(0)
    expect(t.lagBytes(g('0-1-9,1-1-4'))).toBe(4)
  })

  it('prunes only samples every replica has applied', () => {
    const t = new LagTracker()
    t.record(g('0-1-1'), 0)
    t.record(g('0-1-2'), 100)
    t.record(g('0-1-3'), 200)
    t.prune([g('0-1-3'), g('0-1-2')])
    expect(t.lagMs(g('0-1-1'), 1000)).toBe(900) // the sample of 0-1-2 is kept: the second replica is there
  })
})
