import { afterEach, describe, expect, it, vi } from 'vitest'
import { currentScope, isReplicaRouterError, ReplicaScope, runInScope, type RoutingPolicy } from '../src/index.ts'
import { resolveOptions, type ReadReplicasOptions } from '../src/options.ts'
import { Router } from '../src/router.ts'

const fakeClient = () => ({
  $connect: async () => {},
  $disconnect: async () => {},
  $extends: () => ({}),
  $queryRawUnsafe: () => Promise.resolve([]),
})

function router(options: Partial<ReadReplicasOptions> = {}): Router {
  return new Router(resolveOptions({ replicas: [fakeClient(), fakeClient()], sticky: { mode: 'window' }, ...options }), () => Promise.resolve(0n))
}

afterEach(() => {
  vi.useRealTimers()
})

describe('sticky window (pure logic; proven on real replicas in router.db.test.ts)', () => {
  it('pins the scope for windowMs after a write, then releases it', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const r = router({ sticky: { windowMs: 1000 } })
    expect(r.isSticky()).toBe(false)
    r.endWrite(false)
    vi.advanceTimersByTime(999)
    expect(r.isSticky()).toBe(true)
    vi.advanceTimersByTime(1)
    expect(r.isSticky()).toBe(false)
  })

  it('windowMs 0 and sticky false never pin', () => {
    for (const sticky of [{ windowMs: 0 }, false as const]) {
      const r = router({ sticky })
      r.endWrite(false)
      expect(r.isSticky()).toBe(false)
    }
  })

  it('scopes are independent of each other and of the client-wide scope', async () => {
    const r = router()
    await runInScope(async () => {
      r.endWrite(false)
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
      a.endWrite(false)
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
      r.pick({ model: 'User', operation: 'findMany' })
    } catch (e) {
      error = e
    }
    expect(isReplicaRouterError(error)).toBe(true)
    expect((error as Error).name).toBe('RoutingPolicyError')
    expect((error as Error).message).toBe('Routing policy `rogue` returned a value that is not one of the candidates it was given')
  })
})

describe('onRoute', () => {
  it('a throwing listener becomes a process warning, never an exception', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const r = router({
      onRoute: () => {
        throw new Error('listener bug')
      },
    })
    expect(() => {
      r.emit('User', 'findMany', 'read', r.replicas[0])
    }).not.toThrow()
    expect(warn).toHaveBeenCalledWith('onRoute threw: listener bug', 'PrismaReplicaRouterWarning')
    warn.mockRestore()
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
