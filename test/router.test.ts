import { afterEach, describe, expect, it, vi } from 'vitest'
import { mysqlFamily } from '../src/dialects/mysql-family.ts'
import { currentScope, isInvalidConsistencyTokenError, ReplicaScope, runInScope } from '../src/index.ts'
import { resolveOptions, type ReadReplicasOptions } from '../src/options.ts'
import { Router } from '../src/router.ts'
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

describe('consistency points ($consistencyToken)', () => {
  const unavailable = () => Object.assign(new Error('function pg_current_wal_insert_lsn() does not exist'), { code: '42883' })

  it('window mode: the write’s time only, no position asked (any database, any engine)', async () => {
    let asked = 0
    const r = new Router(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'window' } }), () => {
      asked += 1
      return Promise.reject(unavailable())
    })
    const point = await runInScope(async () => {
      r.beginWrite()
      r.endWrite()
      return await r.consistencyPoint()
    })
    expect(point?.lsn).toBe(0n)
    expect(Math.abs((point?.time ?? 0) - Date.now())).toBeLessThan(1000)
    expect(asked).toBe(0)
  })

  it('LSN mode on servers without positions: the time only, and the router uses the window from then on; a failure of the moment throws', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const r = new Router(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'lsn' } }), () => Promise.reject(unavailable()))
    const point = await runInScope(async () => {
      r.endWrite()
      return await r.consistencyPoint()
    })
    expect([point?.lsn, r.mode]).toEqual([0n, 'window'])
    warn.mockRestore()
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
    const down = new Router(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'lsn' } }), () => Promise.reject(refused))
    await expect(
      runInScope(async () => {
        down.endWrite()
        return await down.consistencyPoint()
      }),
    ).rejects.toBe(refused)
  })
})

describe('a scope seeded with a token without a position', () => {
  it('LSN mode: needs the primary’s position from a query started after the scope began (covers the token’s write)', async () => {
    let asked = 0
    const r = new Router(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'lsn' } }), () => {
      asked += 1
      return Promise.resolve(42n)
    })
    const required = await runInScope(() => r.requirement(), { token: '1.0.10' })
    expect([required, asked]).toEqual([42n, 1])
    const window = new Router(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'window' } }), () => Promise.resolve(42n))
    expect(await runInScope(() => window.requirement(), { token: '1.0.10' })).toBeUndefined()
  })
})

describe('a token of another database engine', () => {
  const postgres = () => new Router(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'lsn' } }), () => Promise.resolve(42n))
  const mariadb = () => new Router(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'lsn' } }), () => Promise.resolve(42n), undefined, mysqlFamily)
  const tokens = { postgresql: '1.16b374d848.lz5x0g00', mariadb: '2.m.0-1-1836.lz5x0g00', mysql: '2.y.3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5.lz5x0g00', timeOnly: '1.0.lz5x0g00' }

  it('strict: an InvalidConsistencyTokenError from the first query of a client on another engine (PostgreSQL <-> MariaDB / MySQL)', async () => {
    for (const [make, token, kind] of [
      [mariadb, tokens.postgresql, 'PostgreSQL'],
      [postgres, tokens.mariadb, 'MariaDB'],
      [postgres, tokens.mysql, 'MySQL'],
    ] as const) {
      const r = make()
      await expect(runInScope(() => r.requirement(), { token, strict: true })).rejects.toSatisfy(
        (error: unknown) => isInvalidConsistencyTokenError(error) && error.message.includes(`a ${kind} token, given to a client of another database engine`),
      )
    }
  })

  it('not strict: ignored (the scope requires nothing of it); a token of the same engine, or with a time only, is used', async () => {
    expect(await runInScope(() => mariadb().requirement(), { token: tokens.postgresql })).toBeUndefined()
    expect(await runInScope(() => postgres().requirement(), { token: tokens.mariadb })).toBeUndefined()
    expect(await runInScope(() => postgres().requirement(), { token: tokens.postgresql, strict: true })).toBe(0x16b374d848n)
    expect(String(await runInScope(() => mariadb().requirement(), { token: tokens.mariadb, strict: true }))).toBe('0-1-1836')
    // A time-only token fits every engine: the scope asks the primary's position afresh.
    expect(await runInScope(() => mariadb().requirement(), { token: tokens.timeOnly, strict: true })).toBe(42n)
  })
})
