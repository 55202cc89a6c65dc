import { afterEach, describe, expect, it, vi } from 'vitest'
import { currentScope, isReplicaRouterError, ReplicaScope, runInScope, type RoutingPolicy } from '../src/index.ts'
import { resolveOptions, type ReadReplicasOptions } from '../src/options.ts'
import { Router } from '../src/router.ts'
import { tick } from '../src/scope.ts'
import { fakeClient } from './support/fake-client.ts'

function router(options: Partial<ReadReplicasOptions> = {}): Router {
  return new Router(resolveOptions({ replicas: [fakeClient(), fakeClient()], sticky: { mode: 'window' }, ...options }), () => Promise.resolve(0n))
}

afterEach(() => {
  vi.useRealTimers()
})

describe('sticky window (pure logic; proven on real replicas in read-your-writes.window.db.test.ts)', () => {
  it('pins the scope for windowMs after a write, then releases it', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const r = router({ sticky: { windowMs: 1000 } })
    expect(r.isSticky()).toBe(false)
    r.endWrite()
    vi.advanceTimersByTime(999)
    expect(r.isSticky()).toBe(true)
    vi.advanceTimersByTime(1)
    expect(r.isSticky()).toBe(false)
  })

  it('windowMs 0 and sticky false never pin', () => {
    for (const sticky of [{ windowMs: 0 }, false as const]) {
      const r = router({ sticky })
      r.endWrite()
      expect(r.isSticky()).toBe(false)
    }
  })

  it('scopes are independent of each other and of the client-wide scope', async () => {
    const r = router()
    await runInScope(async () => {
      r.endWrite()
      await Promise.resolve()
      expect(r.isSticky()).toBe(true)
      runInScope(() => {
        expect(r.isSticky()).toBe(false)
      })
    })
    expect(r.isSticky()).toBe(false)
    runInScope(() => {
      expect(r.isSticky()).toBe(false)
    })
  })

  it('one scope used by two routers keeps separate state', () => {
    const a = router()
    const b = router()
    runInScope(() => {
      a.endWrite()
      expect(a.isSticky()).toBe(true)
      expect(b.isSticky()).toBe(false)
    })
  })
})

describe('policy results are checked', () => {
  it('a custom policy returning a foreign value throws RoutingPolicyError', () => {
    const rogue: RoutingPolicy = { name: 'rogue', pick: (c) => ({ ...c[0]!, name: 'elsewhere' }) }
    const r = router({ policy: rogue })
    let error: unknown
    try {
      r.set.pick({ model: 'User', operation: 'findMany' })
    } catch (e) {
      error = e
    }
    expect(isReplicaRouterError(error)).toBe(true)
    expect((error as Error).name).toBe('RoutingPolicyError')
    expect((error as Error).message).toBe('Routing policy `rogue` returned a value that is not one of the candidates it was given')
  })
})

describe('runInScope', () => {
  it('starts a lazy promise (like a PrismaPromise) inside the scope it was created in', async () => {
    let seen: unknown = 'not run'
    const lazy = {
      then(resolve: (value: unknown) => void) {
        seen = currentScope()
        resolve('done')
      },
    }
    expect(await runInScope(() => lazy as PromiseLike<string>)).toBe('done')
    expect(seen).toBeInstanceOf(ReplicaScope)
  })
})

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** A Router in LSN mode whose primary-position queries are answered by the test, one by one. */
function lsnRouter() {
  const queries: { resolve: (lsn: bigint) => void }[] = []
  const r = new Router(resolveOptions({ replicas: [fakeClient(), fakeClient()], sticky: { mode: 'lsn' } }), () => {
    const { promise, resolve } = deferred<bigint>()
    queries.push({ resolve })
    return promise
  })
  return { r, queries }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('LSN mode: which primary position covers a write (pure logic; proven on real replicas in read-your-writes.lsn.db.test.ts)', () => {
  it('a write that ends while a read resolves an earlier one stays pending: the next read asks again', async () => {
    const { r, queries } = lsnRouter()
    await runInScope(async () => {
      r.endWrite()
      const first = r.requirement()
      await turn()
      r.endWrite() // ends after the position query in flight started: that position may not cover it
      queries[0]?.resolve(100n)
      expect(await first).toBe(100n)
      const second = r.requirement()
      await turn()
      expect(queries).toHaveLength(2)
      queries[1]?.resolve(200n)
      expect(await second).toBe(200n)
    })
  })

  it('a transaction marks its scope when it settles, not before: a read while it is open does not clear it', async () => {
    const { r, queries } = lsnRouter()
    await runInScope(async () => {
      const commit = deferred<undefined>()
      const tx = r.transaction(async () => {
        await r.transactionQuery(Promise.resolve('row'))
        await commit.promise // the callback is still running: no COMMIT yet
      })
      await turn()
      // A read of the same scope while the transaction is open: nothing of the scope is committed yet.
      expect(await r.requirement()).toBeUndefined()
      expect(queries).toHaveLength(0)
      commit.resolve(undefined)
      await tx
      const after = r.requirement()
      await turn()
      expect(queries).toHaveLength(1) // a position query started after COMMIT
      queries[0]?.resolve(300n)
      expect(await after).toBe(300n)
    })
  })

  it('a transaction that fails (rollback, or a COMMIT whose answer was lost) marks its scope too', async () => {
    const { r, queries } = lsnRouter()
    await runInScope(async () => {
      await expect(
        r.transaction(async () => {
          await r.transactionQuery(Promise.resolve('row'))
          throw new Error('rollback')
        }),
      ).rejects.toThrow('rollback')
      const after = r.requirement()
      await turn()
      expect(queries).toHaveLength(1)
      queries[0]?.resolve(5n)
      expect(await after).toBe(5n)
    })
  })

  it('a transaction query no tracked transaction encloses keeps the scope on the primary for the window', async () => {
    const { r } = lsnRouter()
    await runInScope(async () => {
      const state = r.scopeState()
      expect(Router.untracked(state)).toBe(false)
      await r.transactionQuery(Promise.resolve('row'))
      expect(Router.untracked(state)).toBe(true)
      expect(state.pending).toBeTypeOf('number')
    })
  })
})

describe('replay observations: one server, a restarted server, or several behind one entry (pure logic)', () => {
  const server = (addr: string, start: string) => `${addr}@${start}`

  it('the same server: positions only grow; a lower answer of a check that overlapped a higher one is ignored', () => {
    const r = router({ sticky: { mode: 'lsn' } })
    const replica = r.replicas[0]!
    const overlapping = tick()
    r.set.observeReplay(replica, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.set.observeReplay(replica, { lsn: 90n, server: server('10.0.0.1:5432', 't1') }, overlapping)
    expect([replica.replay, replica.pooled]).toEqual([100n, false])
  })

  it('a server restarted at the same address starts again from what it reports (it may open lower)', () => {
    const r = router({ sticky: { mode: 'lsn' } })
    const replica = r.replicas[0]!
    r.set.observeReplay(replica, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.set.observeReplay(replica, { lsn: 80n, server: server('10.0.0.1:5432', 't2') }, tick())
    expect([replica.replay, replica.incarnation, replica.pooled]).toEqual([80n, 1, false])
  })

  it('another server answering, or a server seen before answering again, mark the entry pooled, with one warning', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const r = router({ sticky: { mode: 'lsn' } })
    const [a, b] = r.replicas
    r.set.observeReplay(a!, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.set.observeReplay(a!, { lsn: 100n, server: server('10.0.0.2:5432', 't1') }, tick())
    r.set.observeReplay(a!, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.set.observeReplay(b!, { lsn: 100n, server: server('10.0.0.3:5432', 't1') }, tick())
    r.set.observeReplay(b!, { lsn: 100n, server: server('10.0.0.3:5432', 't2') }, tick()) // restarted
    r.set.observeReplay(b!, { lsn: 100n, server: server('10.0.0.3:5432', 't1') }, tick()) // the old start again: two servers
    expect([a!.pooled, b!.pooled]).toEqual([true, true])
    expect(warn.mock.calls.map((c) => String(c[0]).split(':')[0])).toEqual([
      'replica `replica-1` is served by more than one server (two different servers answered through it)',
      'replica `replica-2` is served by more than one server (two different servers answered through it)',
    ])
    warn.mockRestore()
  })

  it('a position going backwards on one server is a reinitialisation (same start time): a new incarnation, not a pool', () => {
    const r = router({ sticky: { mode: 'lsn' } })
    const replica = r.replicas[0]!
    r.set.observeReplay(replica, { lsn: 100n, server: server('10.0.0.1:5432', 't1') }, tick())
    r.set.observeReplay(replica, { lsn: 90n, server: server('10.0.0.1:5432', 't1') }, tick())
    expect([replica.replay, replica.incarnation, replica.pooled]).toEqual([90n, 1, false])
  })

  it('a server not in recovery reports no position: none is kept', () => {
    const r = router({ sticky: { mode: 'lsn' } })
    const replica = r.replicas[0]!
    r.set.observeReplay(replica, { lsn: 100n, server: undefined }, tick())
    r.set.observeReplay(replica, { lsn: undefined, server: undefined }, tick())
    expect(replica.replay).toBeUndefined()
  })

  it('a connection failure forgets the position (the server may come back restarted, lower)', () => {
    const r = router({ sticky: { mode: 'lsn' } })
    const replica = r.replicas[0]!
    r.set.observeReplay(replica, { lsn: 100n, server: undefined }, tick())
    r.set.fail(replica, 'ECONNREFUSED')
    expect([replica.replay, replica.incarnation]).toEqual([undefined, 1])
  })
})

describe('a failing primary position query', () => {
  const failing = (error: unknown) =>
    new Router(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'lsn' } }), () => Promise.reject(error instanceof Error ? error : new Error('?')))

  it('sends the read to the primary and stays in LSN mode, unless the server cannot report positions at all', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const cancelled = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })
    const undefinedFunction = Object.assign(new Error('function pg_current_wal_insert_lsn() does not exist'), { code: '42883' })
    for (const [error, mode] of [
      [cancelled, 'lsn'],
      [Object.assign(new Error('recovery is in progress'), { code: '55000' }), 'lsn'],
      [undefinedFunction, 'window'],
      [Object.assign(new Error('not supported for Aurora'), { code: '0A000' }), 'window'],
      [new TypeError('pg_current_wal_insert_lsn() returned no position'), 'window'],
    ] as const) {
      const r = failing(error)
      await runInScope(async () => {
        r.endWrite()
        expect(await r.requirement()).toBe('primary')
      })
      expect([error.message, r.mode]).toEqual([error.message, mode])
    }
    expect(warn.mock.calls.filter((c) => String(c[0]).startsWith("sticky mode 'lsn' needs"))).toHaveLength(3)
    warn.mockRestore()
  })
})
