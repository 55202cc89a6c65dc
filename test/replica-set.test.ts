/**
 * The replica set (src/replica-set.ts), pure logic over fake clients: replay observations (one server, a restart,
 * a pool), the policy's choice, reads in flight, failures and disconnecting. Against real servers, restarted and
 * frozen for real: test/read-replicas.failover.db.test.ts, test/read-your-writes.lsn.db.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { isReplicaRouterError, type RoutingPolicy } from '../src/index.ts'
import { resolveOptions, type ReadReplicasOptions } from '../src/options.ts'
import { MariadbGtidPosition } from '../src/dialects/mariadb-gtid.ts'
import { ReadInFlight, ReplicaSet } from '../src/replica-set.ts'
import { RouteReporter } from '../src/route-reporter.ts'
import { ClientLink } from '../src/server-link.ts'
import { tick } from '../src/scope.ts'
import type { HealthEvent } from '../src/health-event.ts'
import { fakeClient } from './support/fake-client.ts'

function replicaSet(options: Partial<ReadReplicasOptions> = {}, clients: ReturnType<typeof fakeClient>[] = [fakeClient(), fakeClient()]): ReplicaSet {
  const resolved = resolveOptions({ replicas: clients, ...options })
  return new ReplicaSet(resolved, new RouteReporter(resolved), (r) => new ClientLink(r.client))
}

afterEach(() => {
  vi.useRealTimers()
})

describe('policy results are checked', () => {
  it('a custom policy returning a foreign value throws RoutingPolicyError', () => {
    const rogue: RoutingPolicy = { name: 'rogue', pick: (c) => ({ ...c[0]!, name: 'elsewhere' }) }
    const r = replicaSet({ policy: rogue })
    let error: unknown
    try {
      r.pick({ model: 'User', operation: 'findMany' })
    } catch (e) {
      error = e
    }
    expect(isReplicaRouterError(error)).toBe(true)
    expect((error as Error).name).toBe('RoutingPolicyError')
    expect((error as Error).message).toBe('Routing policy `rogue` returned a value that is not one of the candidates it was given')
  })
})

describe('replay observations: one server, a restarted server, or several behind one entry (pure logic)', () => {
  const server = (addr: string, start: string) => `${addr}@${start}`

  it('the same server: positions only grow; a lower answer of a check that overlapped a higher one is ignored', () => {
    const r = replicaSet()
    const replica = r.replicas[0]!
    const overlapping = tick()
    r.observeReplay(replica, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.observeReplay(replica, { lsn: 90n, server: server('10.0.0.1:5432', 't1') }, overlapping)
    expect([replica.replay, replica.pooled]).toEqual([100n, false])
  })

  it('a server restarted at the same address starts again from what it reports (it may open lower)', () => {
    const r = replicaSet()
    const replica = r.replicas[0]!
    r.observeReplay(replica, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.observeReplay(replica, { lsn: 80n, server: server('10.0.0.1:5432', 't2') }, tick())
    expect([replica.replay, replica.incarnation, replica.pooled]).toEqual([80n, 1, false])
  })

  it('another server answering, or a server seen before answering again, mark the entry pooled, with one warning', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const r = replicaSet()
    const [a, b] = r.replicas
    r.observeReplay(a!, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.observeReplay(a!, { lsn: 100n, server: server('10.0.0.2:5432', 't1') }, tick())
    r.observeReplay(a!, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.observeReplay(b!, { lsn: 100n, server: server('10.0.0.3:5432', 't1') }, tick())
    r.observeReplay(b!, { lsn: 100n, server: server('10.0.0.3:5432', 't2') }, tick()) // restarted
    r.observeReplay(b!, { lsn: 100n, server: server('10.0.0.3:5432', 't1') }, tick()) // the old start again: two servers
    expect([a!.pooled, b!.pooled]).toEqual([true, true])
    expect(warn.mock.calls.map((c) => String(c[0]).split(':')[0])).toEqual([
      'replica `replica-1` is served by more than one server (two different servers answered through it)',
      'replica `replica-2` is served by more than one server (two different servers answered through it)',
    ])
    warn.mockRestore()
  })

  it('a position going backwards on one server is a reinitialisation (same start time): a new incarnation, not a pool', () => {
    const r = replicaSet()
    const replica = r.replicas[0]!
    r.observeReplay(replica, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.observeReplay(replica, { lsn: 90n, server: server('10.0.0.1:5432', 't1') }, tick())
    expect([replica.replay, replica.incarnation, replica.pooled]).toEqual([90n, 1, false])
  })

  it('a server not in recovery reports no position: none is kept', () => {
    const r = replicaSet()
    const replica = r.replicas[0]!
    r.observeReplay(replica, { lsn: 100n, server: undefined }, tick())
    r.observeReplay(replica, { lsn: undefined, server: undefined }, tick())
    expect(replica.replay).toBeUndefined()
  })

  it('a connection failure forgets the position (the server may come back restarted, lower)', () => {
    const r = replicaSet()
    const replica = r.replicas[0]!
    r.observeReplay(replica, { lsn: 100n, server: undefined }, tick())
    r.fail(replica, 'ECONNREFUSED')
    expect([replica.replay, replica.incarnation]).toEqual([undefined, 1])
  })
})

describe('reads in flight', () => {
  it('counted from the start to the first end; served ones counted as reads; a late end (a read given up) changes nothing', () => {
    const r = replicaSet()
    const replica = r.replicas[0]!
    const served = new ReadInFlight(replica)
    const givenUp = new ReadInFlight(replica)
    expect(replica.inFlight).toBe(2)
    expect(served.end(true)).toBe(true)
    expect(givenUp.end(false)).toBe(true)
    expect(givenUp.end(true)).toBe(false) // its late result
    expect([replica.inFlight, replica.reads, served.open, givenUp.open]).toEqual([0, 1, false, false])
  })
})

describe('failures', () => {
  it('a connection-level error takes the replica out of rotation, reported once; an error of the query does not', () => {
    const events: HealthEvent[] = []
    const r = replicaSet({ onHealthChange: (e) => events.push(e) })
    const [a, b] = r.replicas
    expect(r.failedBy(a!, Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }))).toBe(false)
    expect(r.failedBy(a!, Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true)
    expect(r.failedBy(a!, Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true)
    expect([a!.state, a!.failures, events.length]).toEqual(['down', 2, 1])
    expect(r.pick({ model: 'User', operation: 'findMany' })).toBe(b)
    expect(r.pick({ model: 'User', operation: 'findMany' }, b)).toBeUndefined()
  })
})

describe('disconnecting', () => {
  it('waits for a replica client while a read is in flight on it, then half a second, never for a frozen disconnect', async () => {
    vi.useFakeTimers()
    const frozen = { ...fakeClient(), $disconnect: () => new Promise<void>(() => undefined) }
    const r = replicaSet({}, [frozen])
    const read = new ReadInFlight(r.replicas[0]!)
    let done = false
    const disconnecting = r.disconnect().then(() => (done = true))
    await vi.advanceTimersByTimeAsync(5_000)
    expect(done).toBe(false)
    read.end(false)
    await vi.advanceTimersByTimeAsync(499)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(100)
    await disconnecting
    expect(done).toBe(true)
  })
})

describe('the most advanced replica', () => {
  it('the one furthest ahead; when no position is known yet, any (a check tells); GTID positions per domain', () => {
    const r = replicaSet()
    const [a, b] = r.replicas
    const context = { model: 'User', operation: 'findMany' }
    expect([a, b]).toContain(r.mostAdvanced(context))
    a!.replay = 5n
    b!.replay = 9n
    expect(r.mostAdvanced(context)).toBe(b)
    a!.replay = MariadbGtidPosition.parse('0-1-10,1-1-2')
    b!.replay = MariadbGtidPosition.parse('0-1-10,1-1-3')
    expect(r.mostAdvanced(context)).toBe(b)
  })
})
