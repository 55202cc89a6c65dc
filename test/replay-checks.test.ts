/**
 * Replay checks (src/replay-checks.ts), pure logic over scripted server answers: a position learned before a
 * read, and a read confirmed after it. Against real servers, restarted and reinitialised for real:
 * test/read-your-writes.lsn.db.test.ts and test/session-guarantees.db.test.ts.
 */
import { describe, expect, it, vi } from 'vitest'
import { resolveOptions } from '../src/options.ts'
import { ReplayChecks } from '../src/replay-checks.ts'
import { Router } from '../src/router.ts'
import { tick } from '../src/scope.ts'
import { fakeClient } from './support/fake-client.ts'
import { scriptedLink } from './support/scripted-link.ts'

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
const SERVER = '127.0.0.1:5433@2026-11-30 10:00:00+00'

function setup() {
  const link = scriptedLink({ lsn: '0/100', server: SERVER })
  const router = new Router(
    resolveOptions({ replicas: [fakeClient()] }),
    () => Promise.resolve(0n),
    () => link,
  )
  const replica = router.replicas[0]!
  replica.identified = true // as after the health check's first round
  return { link, replica, router, checks: new ReplayChecks(router.set, undefined) }
}

describe('replay checks', () => {
  it('a replica known to have replayed the position: no round trip; else one check, and false if it falls short', async () => {
    const { link, replica, checks } = setup()
    expect(await checks.reach(replica, 0x100n, -Infinity)).toBe(true)
    expect(replica.replay).toBe(0x100n)
    expect(link.queries).toBe(1)
    expect(await checks.reach(replica, 0x80n, -Infinity)).toBe(true)
    expect(link.queries).toBe(1) // known: 0/100 covers 0/80
    expect(await checks.reach(replica, 0x200n, -Infinity)).toBe(false)
    expect(link.queries).toBe(2) // what was known fell short: asked again (never reused when it is too old)
    expect(checks.waits).toBe(0)
  })

  it('an answer that falls short from a check in flight since before the read asked is followed by a fresh check', async () => {
    const { link, replica, checks } = setup()
    let release: () => void = () => undefined
    const query = link.query.bind(link)
    link.query = () => {
      const answer = query()
      return link.queries === 1
        ? new Promise(
            (resolve) =>
              (release = () => {
                resolve(answer)
              }),
          )
        : answer
    }
    const older = checks.reach(replica, 0x100n, -Infinity) // a check in flight, answering 0/100
    link.next = { lsn: '0/100', server: SERVER }
    const reading = checks.reach(replica, 0x200n, -Infinity) // the write's position, learned after it started
    link.next = { lsn: '0/200', server: SERVER }
    release()
    expect(await older).toBe(true)
    expect(await reading).toBe(true) // 0/100 from the older check; then a fresh one: 0/200
    expect(link.queries).toBe(2)
  })

  it('with a deadline, a replica that falls short is asked again until it has replayed the position', async () => {
    const { link, replica, checks } = setup()
    const answers = ['0/100', '0/180', '0/220']
    const query = link.query.bind(link)
    link.query = () => {
      link.next = { lsn: answers.shift() ?? '0/220', server: SERVER }
      return query()
    }
    expect(await checks.reach(replica, 0x200n, performance.now() + 60_000)).toBe(true)
    expect(link.queries).toBe(3)
    expect(checks.waits).toBe(2)
  })

  it('concurrent waiters share one check at a time; each is answered by the first check that covers its position', async () => {
    const { link, replica, checks } = setup()
    let lsn = 0x100
    const query = link.query.bind(link)
    link.query = async () => {
      link.next = { lsn: `0/${(lsn += 0x40).toString(16)}`, server: SERVER }
      await new Promise((resolve) => setImmediate(resolve))
      return await query()
    }
    const deadline = performance.now() + 60_000
    const results = await Promise.all([0x140n, 0x180n, 0x200n, 0x200n, 0x200n].map((p) => checks.reach(replica, p, deadline)))
    expect(results).toEqual([true, true, true, true, true])
    // 0/140, 0/180, 0/1c0, 0/200: one check per step, shared by all five waiters.
    expect(link.queries).toBe(4)
  })

  it('after a wait for a replica ran out, reads do not wait for it for a second (one check each), then wait again', async () => {
    const { link, replica, checks } = setup()
    const now = vi.spyOn(performance, 'now')
    let clock = 1_000_000
    now.mockImplementation(() => clock)
    const query = link.query.bind(link)
    link.query = () => {
      clock += 10 // each check takes 10 ms of the test's clock
      return query()
    }
    expect(await checks.reach(replica, 0x200n, clock + 25)).toBe(false) // 0/100 at every check: gave up
    expect(link.queries).toBe(3)
    expect(await checks.reach(replica, 0x200n, clock + 25)).toBe(false)
    expect(link.queries).toBe(4) // one check, no waiting
    clock += 1_000
    link.next = { lsn: '0/200', server: SERVER }
    expect(await checks.reach(replica, 0x300n, clock + 25)).toBe(false)
    expect(link.queries).toBe(7) // waits again after the back-off
    now.mockRestore()
  })

  it('a read that waits asks again after a pause (1, 2, 4, then every 8 ms), not back to back', async () => {
    const { link, replica, checks } = setup()
    const started = performance.now()
    expect(await checks.reach(replica, 0x200n, started + 100)).toBe(false) // 0/100 at every check
    // Back to back, a loopback check every ~0.1 ms would be ~1,000 checks in 100 ms.
    console.info(`a 100 ms wait for a replica that never gets there: ${String(link.queries)} checks`)
    expect(link.queries).toBeLessThan(30)
  })

  it('a replica whose measured lag exceeds the time left, or that left rotation, is not waited for', async () => {
    const { link, replica, checks } = setup()
    replica.lag = { ms: 5_000, bytes: 0 }
    expect(await checks.reach(replica, 0x200n, performance.now() + 1_000)).toBe(false)
    expect(link.queries).toBe(1)
    replica.lag = undefined
    replica.state = 'down'
    expect(await checks.reach(replica, 0x200n, performance.now() + 1_000)).toBe(false)
    expect(link.queries).toBe(2)
  })

  it('a check failing at the connection level: false, and the replica leaves rotation; a query error: false, it stays', async () => {
    const down = setup()
    down.link.next = refused()
    expect(await down.checks.reach(down.replica, 0x100n, -Infinity)).toBe(false)
    expect(down.replica.state).toBe('down')
    const own = setup()
    own.link.next = Object.assign(new Error('canceling statement due to conflict with recovery'), { code: '40001' })
    expect(await own.checks.reach(own.replica, 0x100n, -Infinity)).toBe(false)
    expect(own.replica.state).toBe('up')
  })

  it('a read is confirmed by a check that started after it ended and saw the same server', async () => {
    const { link, replica, checks } = setup()
    await checks.reach(replica, 0x100n, -Infinity)
    const incarnation = replica.incarnation
    expect(await checks.confirmed(replica, incarnation, tick())).toBe(true)
    expect(link.queries).toBe(2) // the first check started before the read ended: it cannot confirm it
  })

  it('not confirmed: the server restarted (another start time), went back (position lower), or is unreachable', async () => {
    const restarted = setup()
    await restarted.checks.reach(restarted.replica, 0x100n, -Infinity)
    restarted.link.next = { lsn: '0/200', server: SERVER.replace('10:00:00', '10:05:00') }
    expect(await restarted.checks.confirmed(restarted.replica, restarted.replica.incarnation, tick())).toBe(false)

    const back = setup()
    await back.checks.reach(back.replica, 0x100n, -Infinity)
    back.link.next = { lsn: '0/80', server: SERVER }
    expect(await back.checks.confirmed(back.replica, back.replica.incarnation, tick())).toBe(false)

    const gone = setup()
    await gone.checks.reach(gone.replica, 0x100n, -Infinity)
    gone.link.next = refused()
    expect(await gone.checks.confirmed(gone.replica, gone.replica.incarnation, tick())).toBe(false)
    expect(gone.replica.state).toBe('down')
  })

  it('not confirmed: another server answered through the same entry (a pooler): it is marked pooled', async () => {
    const { link, replica, checks } = setup()
    await checks.reach(replica, 0x100n, -Infinity)
    link.next = { lsn: '0/200', server: '127.0.0.1:5434@2026-11-30 10:00:00+00' }
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    expect(await checks.confirmed(replica, replica.incarnation, tick())).toBe(false)
    expect(replica.pooled).toBe(true)
    expect(String(warn.mock.calls[0]?.[0])).toContain('more than one server')
    warn.mockRestore()
  })
})
