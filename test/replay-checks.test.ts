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
  return { link, replica, router, checks: new ReplayChecks(router.set, undefined) }
}

describe('replay checks', () => {
  it('a check learns the position; another within 5 ms is not sent (a lagging replica is not asked on every read)', async () => {
    const { link, replica, checks } = setup()
    expect(await checks.check(replica)).toBe(true)
    expect(replica.replay).toBe(0x100n)
    expect(await checks.check(replica)).toBe(true)
    expect(link.queries).toBe(1)
  })

  it('a check failing at the connection level: false, and the replica leaves rotation; a query error: false, it stays', async () => {
    const down = setup()
    down.link.next = refused()
    expect(await down.checks.check(down.replica)).toBe(false)
    expect(down.replica.state).toBe('down')
    const own = setup()
    own.link.next = Object.assign(new Error('canceling statement due to conflict with recovery'), { code: '40001' })
    expect(await own.checks.check(own.replica)).toBe(false)
    expect(own.replica.state).toBe('up')
  })

  it('a read is confirmed by a check that started after it ended and saw the same server', async () => {
    const { link, replica, checks } = setup()
    await checks.check(replica)
    const incarnation = replica.incarnation
    expect(await checks.confirmed(replica, incarnation, tick())).toBe(true)
    expect(link.queries).toBe(2) // the first check started before the read ended: it cannot confirm it
  })

  it('not confirmed: the server restarted (another start time), went back (position lower), or is unreachable', async () => {
    const restarted = setup()
    await restarted.checks.check(restarted.replica)
    restarted.link.next = { lsn: '0/200', server: SERVER.replace('10:00:00', '10:05:00') }
    expect(await restarted.checks.confirmed(restarted.replica, restarted.replica.incarnation, tick())).toBe(false)

    const back = setup()
    await back.checks.check(back.replica)
    back.link.next = { lsn: '0/80', server: SERVER }
    expect(await back.checks.confirmed(back.replica, back.replica.incarnation, tick())).toBe(false)

    const gone = setup()
    await gone.checks.check(gone.replica)
    gone.link.next = refused()
    expect(await gone.checks.confirmed(gone.replica, gone.replica.incarnation, tick())).toBe(false)
    expect(gone.replica.state).toBe('down')
  })

  it('not confirmed: another server answered through the same entry (a pooler): it is marked pooled', async () => {
    const { link, replica, checks } = setup()
    await checks.check(replica)
    link.next = { lsn: '0/200', server: '127.0.0.1:5434@2026-11-30 10:00:00+00' }
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    expect(await checks.confirmed(replica, replica.incarnation, tick())).toBe(false)
    expect(replica.pooled).toBe(true)
    expect(String(warn.mock.calls[0]?.[0])).toContain('more than one server')
    warn.mockRestore()
  })
})
